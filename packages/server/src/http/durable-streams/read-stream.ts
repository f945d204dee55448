import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { StreamRecord } from '../../store/store.js'
import { CommitWaiter } from './commit-waiter.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { type OffsetRequest, encodeOffset, parseOffset, resolveOffset } from './offset-token.js'
import { type ReadChunk, chunkBody, emptyChunk, readChunk } from './read-chunk.js'
import { CACHE_DATA, CACHE_NONE } from './response-headers.js'
import { streamSse } from './sse-session.js'
import { nextCursor } from './stream-cursor.js'
import { authorize, isJsonStream, loadStream, touch } from './stream-access.js'

/** The query of a read: where to start and how to wait (§5.6–§5.8). */
export interface ReadQuery {
  readonly offset: OffsetRequest
  readonly live: 'long-poll' | 'sse' | undefined
  readonly cursor: string | undefined
}

/** Parses `offset`, `live` and `cursor`; unknown parameters are ignored (§11.1). */
export function parseReadQuery(search: URLSearchParams): ReadQuery {
  const offsets = search.getAll('offset')
  if (offsets.length > 1) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Repeated offset parameter')
  const live = search.get('live') ?? undefined
  if (live !== undefined && live !== 'long-poll' && live !== 'sse') {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'live must be long-poll or sse')
  }
  const raw = offsets[0]
  // Live modes need an explicit offset (§5.7, §5.8); a catch-up read defaults to -1 (§5.6).
  if (raw === undefined && live !== undefined) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `live=${live} needs an offset`)
  }
  const offset = raw === undefined ? ({ kind: 'start' } as const) : parseOffset(raw)
  if (offset === undefined) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Malformed offset')
  return { offset, live, cursor: search.get('cursor') ?? undefined }
}

/**
 * `GET /v1/stream/<name>`: catch-up (§5.6), long-poll (§5.7) or SSE (§5.8). Reads the same log the
 * WebSocket subscribers are fed from, so both doors see one order. Needs `read` on the stream.
 */
export async function readStream(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DurableStreamsContext,
  userId: string,
  name: string,
  search: URLSearchParams,
): Promise<void> {
  await authorize(ctx, userId, name, 'read')
  const query = parseReadQuery(search)
  const stream = await loadStream(ctx, name)
  // Live readers reset the TTL when their request begins (§5.1).
  await touch(ctx, stream)
  const resolved = resolveOffset(query.offset, stream)
  if (resolved.kind === 'gone') {
    throw new SeqlineError(ErrorCode.GONE, 'The offset is below the retained history of the stream')
  }
  if (resolved.kind === 'beyond') {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The offset is beyond the end of the stream')
  }
  if (query.live === 'sse') {
    await streamSse(res, ctx, stream, resolved.position, query.cursor)
    return
  }
  if (query.offset.kind === 'now' && query.live === undefined) {
    sendNow(res, stream)
    return
  }
  if (query.live === 'long-poll') {
    await longPoll(req, res, ctx, stream, resolved.position, query.cursor)
    return
  }
  const chunk = await readChunk(ctx, stream, resolved.position)
  sendChunk(req, res, ctx, stream, resolved.position, chunk)
}

/** `offset=now` catch-up (§8): nothing, but the tail position; never cached. */
function sendNow(res: ServerResponse, stream: StreamRecord): void {
  res.statusCode = 200
  res.setHeader('Content-Type', stream.contentType)
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, stream.head))
  res.setHeader('Stream-Up-To-Date', 'true')
  if (stream.closed) res.setHeader('Stream-Closed', 'true')
  res.setHeader('Cache-Control', CACHE_NONE)
  res.end(isJsonStream(stream.contentType) ? '[]' : undefined)
}

/**
 * §5.7: answers at once when there is data after `position` (or the stream is closed there),
 * else waits for the next commit to this stream — never its fork source's — up to the timeout.
 */
async function longPoll(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
  cursor: string | undefined,
): Promise<void> {
  const waiter = new CommitWaiter(ctx.engine, stream.name)
  const abort = new AbortController()
  res.once('close', () => abort.abort())
  try {
    const deadline = Date.now() + ctx.options.longPollTimeoutMs
    let current = stream
    for (;;) {
      const chunk = await readChunk(ctx, current, position)
      if (chunk.count > 0 || current.closed) {
        sendChunk(req, res, ctx, current, position, chunk, { cursor })
        return
      }
      const reason = await waiter.wait(deadline - Date.now(), abort.signal)
      if (reason === 'aborted') return
      if (reason === 'deleted')
        throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'The stream was deleted')
      if (reason === 'timeout') {
        sendChunk(req, res, ctx, current, position, emptyChunk(position), { cursor })
        return
      }
      const fresh = await ctx.engine.getStream(stream.name)
      if (fresh === undefined || fresh.softDeleted) {
        throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'The stream was deleted')
      }
      current = fresh
    }
  } finally {
    waiter.dispose()
  }
}

/**
 * Sends one chunk with the headers of §5.6 (and of §5.7 for a long-poll, `live`):
 * an empty live answer is 204; `Stream-Closed` only once the reader reached the final offset;
 * an ETag that changes with the range and the closure, answered 304 on a match (§10.1).
 */
function sendChunk(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
  chunk: ReadChunk,
  live?: { readonly cursor: string | undefined },
): void {
  const atEnd = chunk.upToDate && chunk.next >= stream.head
  const closed = stream.closed && atEnd
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, chunk.next))
  if (chunk.upToDate) res.setHeader('Stream-Up-To-Date', 'true')
  if (closed) res.setHeader('Stream-Closed', 'true')
  else if (live !== undefined) res.setHeader('Stream-Cursor', nextCursor(live.cursor, Date.now()))
  if (live !== undefined && chunk.count === 0) {
    res.statusCode = 204
    res.setHeader('Cache-Control', CACHE_NONE)
    res.end()
    return
  }
  const etag = `"${stream.epoch}:${position}:${chunk.next}${closed ? ':c' : ''}"`
  res.setHeader('ETag', etag)
  // An empty answer at the tail must not be cached: the next append would stay invisible.
  res.setHeader('Cache-Control', chunk.count > 0 ? CACHE_DATA : CACHE_NONE)
  if (req.headers['if-none-match'] === etag) {
    res.statusCode = 304
    res.end()
    return
  }
  res.statusCode = 200
  res.setHeader('Content-Type', stream.contentType)
  const body = chunkBody(ctx, stream, chunk)
  res.setHeader('Content-Length', body.byteLength)
  res.end(body)
}
