import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import { type Authenticate, type Principal, toPrincipal } from '../auth/authenticator.js'
import type { Engine } from '../engine/engine.js'
import type { Metrics } from '../observability/metrics.js'
import { readBearerToken } from './bearer-token.js'
import { matchClientSecretRoute } from './client-secret-route.js'
import { type HistoryEngine, matchHistoryRoute } from './history-route.js'
import { sendJson, sendJsonError } from './json-error.js'
import { readJsonBody } from './read-json-body.js'

/** What the API routes need from the server. */
export interface ApiContext {
  readonly engine: Pick<
    Engine,
    | 'registerClient'
    | 'forgetClient'
    | 'ownClient'
    | 'ack'
    | 'getCursors'
    | 'presenceOf'
    | 'authorize'
    | 'rotateClientSecret'
  > &
    HistoryEngine
  readonly authenticate: Authenticate
  readonly metrics: Metrics
  readonly logger: Logger
  /** Largest accepted request body. */
  readonly maxBodyBytes: number
  /** True once a graceful shutdown has begun: health checks fail so that balancers drain us. */
  readonly isShuttingDown: () => boolean
}

interface RouteMatch {
  /** Route template, the `route` label of the request metric (bounded cardinality). */
  readonly route: string
  readonly run: () => Promise<void>
}

const CLIENT_PATH = /^\/v1\/clients\/([^/]+)$/
const CLIENT_ACKS_PATH = /^\/v1\/clients\/([^/]+)\/acks$/
const CLIENT_CURSORS_PATH = /^\/v1\/clients\/([^/]+)\/cursors$/
const PRESENCE_PREFIX = '/v1/presence/'

/**
 * Serves Seqline's own HTTP endpoints (DESIGN §6): health, metrics, client registration and
 * removal, acks, cursors and presence. Resolves `false`, without touching the response, when no
 * route matches, so that the next handler (Durable Streams, static files) can take the request.
 *
 * @example
 * http.createServer(async (req, res) => {
 *   if (!(await handleApiRequest(req, res, ctx))) notFound(res)
 * })
 */
export async function handleApiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: ApiContext,
): Promise<boolean> {
  const match = matchRoute(req, res, ctx)
  if (match === undefined) return false
  const method = req.method ?? 'GET'
  res.once('finish', () => {
    ctx.metrics.httpRequests.inc({ method, route: match.route, status: String(res.statusCode) })
  })
  try {
    await match.run()
  } catch (err) {
    if (!(err instanceof SeqlineError) || err.code === ErrorCode.INTERNAL) {
      ctx.logger.error({ err, method, route: match.route }, 'HTTP request failed')
    }
    sendJsonError(res, err)
  }
  return true
}

function matchRoute(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: ApiContext,
): RouteMatch | undefined {
  const method = req.method ?? 'GET'
  const rawPath = (req.url ?? '/').split('?', 1)[0] ?? '/'
  const isRead = method === 'GET' || method === 'HEAD'

  if (rawPath === '/healthz' && isRead) {
    return {
      route: '/healthz',
      run: async () => {
        if (ctx.isShuttingDown()) sendJson(res, 503, { status: 'shutting-down' })
        else sendJson(res, 200, { status: 'ok' })
      },
    }
  }
  if (rawPath === '/metrics' && isRead) {
    return {
      route: '/metrics',
      run: async () => {
        const text = await ctx.metrics.registry.metrics()
        res.statusCode = 200
        res.setHeader('Content-Type', ctx.metrics.registry.contentType)
        res.setHeader('Cache-Control', 'no-store')
        res.end(method === 'HEAD' ? undefined : text)
      },
    }
  }
  if (!rawPath.startsWith('/v1/')) return undefined

  if (rawPath === '/v1/clients' && method === 'POST') {
    return {
      route: '/v1/clients',
      run: async () => {
        const userId = await authenticate(req, ctx)
        const { clientId, secret } = await ctx.engine.registerClient(userId)
        sendJson(res, 201, { clientId, secret })
      },
    }
  }

  let m = CLIENT_PATH.exec(rawPath)
  if (m !== null && method === 'DELETE') {
    const clientId = decodeSegment(m[1])
    return {
      route: '/v1/clients/:id',
      run: async () => {
        const userId = await authenticate(req, ctx)
        await ctx.engine.forgetClient(userId, requireSegment(clientId, 'client id'))
        res.statusCode = 204
        res.end()
      },
    }
  }

  m = CLIENT_ACKS_PATH.exec(rawPath)
  if (m !== null && method === 'POST') {
    const clientId = decodeSegment(m[1])
    return {
      route: '/v1/clients/:id/acks',
      run: async () => {
        const { userId, claims } = await authenticatePrincipal(req, ctx)
        const id = requireSegment(clientId, 'client id')
        const { stream, offset } = parseAck(
          await readJsonBody(req, { limitBytes: ctx.maxBodyBytes }),
        )
        // G8: a user acks only for their own clients, and only on streams they may read.
        await ctx.engine.ownClient(userId, id)
        await ctx.engine.ack(userId, id, stream, offset, { claims })
        res.statusCode = 204
        res.end()
      },
    }
  }

  m = CLIENT_CURSORS_PATH.exec(rawPath)
  if (m !== null && isRead) {
    const clientId = decodeSegment(m[1])
    return {
      route: '/v1/clients/:id/cursors',
      run: async () => {
        const userId = await authenticate(req, ctx)
        const id = requireSegment(clientId, 'client id')
        await ctx.engine.ownClient(userId, id)
        const cursors = await ctx.engine.getCursors(id)
        sendJson(res, 200, {
          cursors: cursors.map(({ stream, epoch, offset, updatedAt }) => ({
            stream,
            epoch,
            offset,
            updatedAt,
          })),
        })
      },
    }
  }

  if (rawPath.startsWith(PRESENCE_PREFIX) && isRead) {
    // Stream names may contain `/`: the whole rest of the path is the name.
    const stream = decodeSegment(rawPath.slice(PRESENCE_PREFIX.length))
    return {
      route: '/v1/presence/:stream',
      run: async () => {
        const { userId, claims } = await authenticatePrincipal(req, ctx)
        if (!isValidStreamName(stream)) {
          throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
        }
        await ctx.engine.authorize(userId, stream, 'read', { claims })
        sendJson(res, 200, { stream, users: ctx.engine.presenceOf(stream) })
      },
    }
  }
  return (
    matchClientSecretRoute(req, res, ctx.engine, (request) => authenticate(request, ctx)) ??
    matchHistoryRoute(req, res, ctx.engine, (request) => authenticatePrincipal(request, ctx))
  )
}

async function authenticate(req: IncomingMessage, ctx: ApiContext): Promise<string> {
  return (await authenticatePrincipal(req, ctx)).userId
}

async function authenticatePrincipal(req: IncomingMessage, ctx: ApiContext): Promise<Principal> {
  const token = readBearerToken(req)
  if (token === undefined) {
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'A bearer token is required')
  }
  try {
    return toPrincipal(await ctx.authenticate(token))
  } catch (err) {
    // Whatever a custom hook throws, the client learns only that the token was refused.
    if (err instanceof SeqlineError && err.code === ErrorCode.UNAUTHENTICATED) throw err
    if (!(err instanceof SeqlineError)) ctx.logger.error({ err }, 'authenticate hook failed')
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid token', { cause: err })
  }
}

function parseAck(body: unknown): { stream: string; offset: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON object {stream, offset}')
  }
  const { stream, offset } = body as { stream?: unknown; offset?: unknown }
  if (!isValidStreamName(stream)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, '"offset" must be a non-negative integer')
  }
  return { stream, offset }
}

/** Decodes one path segment; `undefined` when it is not valid percent-encoding. */
function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function requireSegment(value: string | undefined, what: string): string {
  if (value === undefined || value === '') {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `Malformed ${what} in the path`)
  }
  return value
}
