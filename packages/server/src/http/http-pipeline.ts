import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticator.js'
import type { Metrics } from '../observability/metrics.js'
import { readBearerToken } from './bearer-token.js'
import { sendJson, sendJsonError } from './json-error.js'
import { sendPreflight, setCorsHeaders } from './cors-headers.js'
import type { Route, RouteContext } from './route.js'
import { Router } from './router.js'

/** Serves what the routes do not: static files, or the host app's own handlers. */
export type FallbackHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

/** What the pipeline needs besides its routes. */
export interface HttpPipelineOptions {
  readonly routes: readonly Route[]
  /** The principal of a user token; rejects with UNAUTHENTICATED. */
  readonly authenticate: (token: string) => Promise<Principal>
  /** Requests without a token run as this principal under `--auth none`. */
  readonly anonymous: Principal | undefined
  /** The id of the API key in an `Authorization` header, or undefined when none matches. */
  readonly verifyApiKey?: ((authorization: string | undefined) => string | undefined) | undefined
  readonly metrics: Metrics
  readonly logger: Logger
  /** Tried, in order, for paths no route serves (static files, the host's handlers). */
  readonly fallbacks: readonly FallbackHandler[]
  /** True once shutdown began: everything but health and metrics gets 503 SHUTTING_DOWN. */
  readonly shuttingDown: () => boolean
  /** `Retry-After` (seconds) of answers during shutdown. */
  readonly retryAfterSeconds: number
}

/** One HTTP request through Seqline: resolves once answered (or handed to a fallback). */
export type HttpPipeline = (req: IncomingMessage, res: ServerResponse) => Promise<void>

const ALWAYS_SERVED = new Set(['/healthz', '/metrics'])
const NOBODY: Principal = { userId: '', claims: {} }

/**
 * The one request pipeline of the HTTP API: a route table, and around every route the same
 * wrapper — CORS for cross-origin routes, authentication (user token, anonymous under
 * `--auth none`, or API key), path parameters (a `*stream` is a valid stream name by then), the
 * request metric labelled with the route template (bounded cardinality) and one error answer,
 * `{error: {code, message}}` with the code's status, never a stack trace.
 */
export function createHttpPipeline(options: HttpPipelineOptions): HttpPipeline {
  const router = new Router(options.routes)
  const corsPaths = new Router(
    options.routes
      .filter((r) => r.cors === true)
      .map((r) => ({ ...r, methods: ['OPTIONS'], auth: 'none' as const })),
  )

  return async (req, res) => {
    const url = req.url ?? '/'
    const queryAt = url.indexOf('?')
    const path = queryAt < 0 ? url : url.slice(0, queryAt)
    const method = req.method ?? 'GET'
    let label = 'unmatched'
    let counted = false
    // The request metric, labelled with the route template once known (bounded cardinality).
    const count = (_req: IncomingMessage, _res: ServerResponse, route: string): void => {
      if (counted) return
      counted = true
      res.once('finish', () => {
        options.metrics.httpRequests.inc({ method, route, status: String(res.statusCode) })
      })
    }
    res.setHeader('X-Content-Type-Options', 'nosniff')
    try {
      if (options.shuttingDown() && !ALWAYS_SERVED.has(path)) {
        count(req, res, 'shutdown')
        res.setHeader('Retry-After', options.retryAfterSeconds)
        res.setHeader('Connection', 'close')
        throw new SeqlineError(ErrorCode.SHUTTING_DOWN, 'The server is shutting down')
      }
      if (method === 'OPTIONS') {
        const preflight = corsPaths.route('OPTIONS', path)
        if (preflight.kind === 'match') {
          count(req, res, preflight.match.route.path)
          setCorsHeaders(res)
          sendPreflight(res)
          return
        }
      }
      const routing = router.route(method, path)
      if (routing.kind === 'none') {
        for (const fallback of options.fallbacks) {
          if (await fallback(req, res)) {
            count(req, res, 'fallback')
            return
          }
        }
        count(req, res, label)
        sendJson(res, 404, { error: { code: ErrorCode.NOT_FOUND, message: 'No such route' } })
        return
      }
      if (routing.kind === 'method') {
        count(req, res, label)
        res.setHeader('Allow', routing.allow.join(', '))
        sendJson(res, 405, {
          error: { code: ErrorCode.BAD_REQUEST, message: `Method ${method} is not allowed` },
        })
        return
      }
      const { route, params } = routing.match
      label = route.path
      count(req, res, label)
      if (route.cors === true) setCorsHeaders(res)
      let principal = NOBODY
      let apiKeyId: string | undefined
      if (route.auth === 'user' || route.auth === 'user-or-anonymous') {
        principal = await authenticateUser(req, route.auth === 'user-or-anonymous', options)
      } else if (route.auth === 'api-key') {
        apiKeyId = options.verifyApiKey?.(req.headers.authorization)
        if (apiKeyId === undefined) {
          throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'A valid API key is required')
        }
      }
      const ctx: RouteContext = {
        req,
        res,
        method,
        path,
        query: new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1)),
        params,
        principal,
        apiKeyId,
      }
      await route.handle(ctx)
    } catch (err) {
      if (!(err instanceof SeqlineError) || err.code === ErrorCode.INTERNAL) {
        options.logger.error({ err, method, route: label }, 'HTTP request failed')
      }
      count(req, res, label)
      sendJsonError(res, err)
    }
  }
}

/** The user of a request (DESIGN §8); see `readBearerToken` for where the token may be. */
async function authenticateUser(
  req: IncomingMessage,
  anonymousAllowed: boolean,
  options: HttpPipelineOptions,
): Promise<Principal> {
  const token = readBearerToken(req)
  if (token === undefined) {
    if (
      anonymousAllowed &&
      options.anonymous !== undefined &&
      req.headers.authorization === undefined
    ) {
      return options.anonymous
    }
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'A bearer token is required')
  }
  try {
    return await options.authenticate(token)
  } catch (err) {
    // Whatever a custom hook throws, the client learns only that the token was refused (or that
    // it expired: then it fetches a fresh one).
    if (
      err instanceof SeqlineError &&
      (err.code === ErrorCode.UNAUTHENTICATED || err.code === ErrorCode.TOKEN_EXPIRED)
    ) {
      throw err
    }
    if (!(err instanceof SeqlineError)) options.logger.error({ err }, 'authenticate hook failed')
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid token', { cause: err })
  }
}
