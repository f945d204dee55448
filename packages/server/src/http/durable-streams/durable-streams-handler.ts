import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { sendJson, sendJsonError } from '../json-error.js'
import { appendToStream } from './append-to-stream.js'
import { ChunkCache } from './chunk-cache.js'
import { createStream } from './create-stream.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { readStream } from './read-stream.js'
import { sendPreflight, setCommonHeaders } from './response-headers.js'
import { STREAM_PATH_PREFIX, authenticate, streamNameOf } from './stream-access.js'
import { deleteStream, headStream } from './stream-metadata.js'

/** Serves one request; resolves `false`, without touching the response, for other paths. */
export type DurableStreamsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

/**
 * The Durable Streams protocol under `/v1/stream/<name>` (DESIGN §6), on the engine's streams:
 * what one door writes the other reads, at the same offsets. Every request is authenticated and
 * authorised before the stream is even looked up, so a refused request learns nothing about it
 * (G8). Errors are the protocol's status codes with Seqline's JSON body `{error: {code, message}}`.
 *
 * @example
 * const handle = createDurableStreamsHandler(ctx)
 * http.createServer(async (req, res) => {
 *   if (!(await handle(req, res))) notFound(res)
 * })
 */
export function createDurableStreamsHandler(context: DurableStreamsContext): DurableStreamsHandler {
  const { chunkCacheBytes } = context.options
  const ctx: DurableStreamsContext = {
    ...context,
    chunkCache: chunkCacheBytes > 0 ? new ChunkCache(chunkCacheBytes) : undefined,
  }
  return async (req, res) => {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const path = query < 0 ? url : url.slice(0, query)
    if (!path.startsWith(STREAM_PATH_PREFIX)) return false
    const method = req.method ?? 'GET'
    res.once('finish', () => {
      ctx.metrics?.httpRequests.inc({
        method,
        route: '/v1/stream/:name',
        status: String(res.statusCode),
      })
    })
    setCommonHeaders(res)
    try {
      // Preflights carry no credentials: answer them before auth (CORS).
      if (method === 'OPTIONS') {
        sendPreflight(res)
        return true
      }
      const name = streamNameOf(path)
      const { userId, claims } = await authenticate(req, ctx)
      const request: DurableStreamsContext = { ...ctx, claims }
      const search = new URLSearchParams(query < 0 ? '' : url.slice(query + 1))
      switch (method) {
        case 'PUT':
          await createStream(req, res, request, userId, name)
          break
        case 'POST':
          await appendToStream(req, res, request, userId, name)
          break
        case 'GET':
          await readStream(req, res, request, userId, name, search)
          break
        case 'HEAD':
          await headStream(res, request, userId, name)
          break
        case 'DELETE':
          await deleteStream(res, request, userId, name)
          break
        default:
          res.setHeader('Allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS')
          sendJson(res, 405, {
            error: { code: ErrorCode.BAD_REQUEST, message: `Method ${method} is not allowed` },
          })
      }
    } catch (err) {
      if (!(err instanceof SeqlineError) || err.code === ErrorCode.INTERNAL) {
        ctx.logger.error({ err, method, url: path }, 'Durable Streams request failed')
      }
      sendJsonError(res, err)
    }
    return true
  }
}
