import {
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Authenticate, Authorize } from './auth/authenticator.js'
import { ANONYMOUS_USER, anonymousAuthenticate } from './auth/anonymous-auth.js'
import { resolveAuthorize } from './auth/authorize-option.js'
import type { AuthorizeCallbackOptions } from './auth/callback/authorize-callback.js'
import { devAuthenticate } from './auth/dev-auth.js'
import type { JwtAuthOptions } from './auth/jwt-auth.js'
import { parseAuthOption } from './auth/parse-auth-option.js'
import { type ServerLimits, defaults } from './config.js'
import { Engine } from './engine/engine.js'
import { handleApiRequest } from './http/api-routes.js'
import { createDurableStreamsHandler } from './http/durable-streams/durable-streams-handler.js'
import {
  type DurableStreamsOptions,
  durableStreamsDefaults,
} from './http/durable-streams/durable-streams-context.js'
import { sendJson, sendJsonError } from './http/json-error.js'
import { type StaticHandler, createStaticHandler } from './http/static-files.js'
import { type LogLevel, type Logger, createLogger } from './observability/logger.js'
import { type Metrics, createMetrics } from './observability/metrics.js'
import type { Bus } from './bus/bus.js'
import { openBus } from './bus/open-bus.js'
import type { ClusterLinkOptions } from './engine/cluster-link.js'
import { openStore } from './store/open-store.js'
import type { RetentionPolicy, Store } from './store/store.js'
import { type WsTransport, attachWebSocket } from './transport/ws-transport.js'

/** Options of {@link createServer}. Unset values come from `defaults` (config.ts). */
export interface SeqlineServerOptions {
  /** `sqlite:<path>`, `memory:`, or a `Store` (initialised here, closed by `close()`). */
  readonly store: string | Store
  /**
   * `'dev'` (INSECURE: the token is the user id), `'none'` (NO auth: everyone is `anonymous`),
   * `'jwt:<secret>'`, `'jwt:<jwks.json>'`, or a hook.
   */
  readonly auth: 'dev' | 'none' | Authenticate | string
  /** Claims checks for a `jwt:` auth string. */
  readonly jwt?: JwtAuthOptions | undefined
  /** Default: every authenticated user may do everything. */
  readonly authorize?: Authorize | undefined
  /**
   * Path of a permissions file (docs/backends.md), compiled into `authorize`: anything no rule
   * allows is denied. Not together with `authorize`. A malformed file fails `createServer`.
   */
  readonly permissions?: string | undefined
  /**
   * The application's backend decides each `authorize` over HTTP, signed with a shared secret
   * (docs/backends.md). Not together with `authorize` or `permissions`.
   */
  readonly authorizeCallback?: AuthorizeCallbackOptions | undefined
  /** Default: a pino logger on stdout at `logLevel`. */
  readonly logger?: Logger | undefined
  readonly logLevel?: LogLevel | undefined
  readonly limits?: Partial<ServerLimits> | undefined
  readonly heartbeatMs?: number | undefined
  readonly retention?:
    { readonly defaultPolicy?: RetentionPolicy; readonly intervalMs?: number } | undefined
  readonly clientTtlMs?: number | undefined
  readonly gcIntervalMs?: number | undefined
  /** Browser origins allowed to open a WebSocket; default: any. */
  readonly allowedOrigins?: readonly string[] | undefined
  /** Directory of static files served for paths outside the API. */
  readonly staticDir?: string | undefined
  /** Range of the jittered reconnect hint sent to clients on shutdown. */
  readonly shutdownRetryAfterMs?: { readonly min: number; readonly max: number } | undefined
  /** Tunables of the Durable Streams HTTP endpoint `/v1/stream/*` (long-poll timeout, …). */
  readonly durableStreams?: Partial<DurableStreamsOptions> | undefined
  /**
   * Multi-node: `redis://…` (Redis pub/sub), `postgres` (LISTEN/NOTIFY on the store's database),
   * `postgres://…`, or a `Bus`. Every node of one deployment uses the same store and bus. Default:
   * none (a single node). `close()` closes the bus, like the store.
   */
  readonly bus?: string | Bus | undefined
  /** Bus channel; deployments sharing one Redis or database need different ones. */
  readonly busChannel?: string | undefined
  /** Node id, heal interval and presence heartbeat of the cluster link (with `bus`). */
  readonly cluster?: ClusterLinkOptions | undefined
}

/** A running Seqline server. */
export interface SeqlineServer {
  readonly engine: Engine
  readonly metrics: Metrics
  readonly logger: Logger
  /** Where the server listens, once `listen()` resolved (or the attached server listens). */
  readonly address: { readonly port: number; readonly host: string } | undefined
  /** Creates an HTTP server, attaches to it and listens. `port` 0 picks a free port. */
  listen(port?: number, host?: string): Promise<{ port: number }>
  /**
   * Serves Seqline on an existing HTTP server: its WebSocket endpoint and HTTP routes. Requests
   * Seqline does not handle go to the `request` listeners the server already had.
   */
  attach(httpServer: HttpServer): void
  /** Server-side publish; resolves once durable (G1). */
  publish(stream: string, data: unknown): Promise<{ epoch: string; offset: number }>
  /**
   * Graceful shutdown: stops accepting, sends `goaway` to every socket, finishes in-flight
   * requests, commits everything pending (every acknowledged publish is durable), closes the
   * store. Idempotent.
   */
  close(): Promise<void>
}

// How long in-flight HTTP requests (long-polls, SSE) may run once shutdown began.
const REQUEST_DRAIN_MS = 2_000

/**
 * Creates a Seqline server: opens the store, starts the engine's periodic jobs, and is ready to
 * `listen()` or `attach()`.
 *
 * @example
 * const server = await createServer({ store: 'sqlite:./data/seqline.db', auth: 'dev' })
 * await server.listen(8080, '127.0.0.1')
 * await server.publish('user:alice', { kind: 'notice' })
 * await server.close()
 */
export async function createServer(options: SeqlineServerOptions): Promise<SeqlineServer> {
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? defaults.logLevel })
  const authenticate =
    typeof options.auth === 'function' ? options.auth : parseAuthOption(options.auth, options.jwt)
  if (authenticate === devAuthenticate) {
    logger.warn(
      '!!! INSECURE dev auth is enabled: any token is accepted as the user id. Never use it in production: set auth to jwt:<secret> or jwt:<jwks.json> !!!',
    )
  }
  if (authenticate === anonymousAuthenticate) {
    logger.warn(
      `!!! NO auth (--auth none): every request runs as user "${ANONYMOUS_USER}", no token needed. Only for public data and conformance runs !!!`,
    )
  }
  const authorize = resolveAuthorize(options, logger)
  const metrics = createMetrics()
  const limits: ServerLimits = { ...defaults.limits, ...options.limits }
  const heartbeatMs = options.heartbeatMs ?? defaults.heartbeatMs
  const retryAfterMs = options.shutdownRetryAfterMs ?? defaults.shutdownRetryAfterMs
  const store = await openStore(options.store)
  let bus: Bus | undefined
  try {
    bus = await openBus(options.bus, {
      storeUrl: typeof options.store === 'string' ? options.store : undefined,
      channel: options.busChannel,
      logger,
    })
  } catch (err) {
    await store.close().catch(() => undefined)
    throw err
  }

  let engine: Engine
  try {
    engine = new Engine({
      store,
      logger,
      metrics,
      authorize,
      limits,
      retention: {
        defaultPolicy: options.retention?.defaultPolicy ?? defaults.retention.defaultPolicy,
        intervalMs: options.retention?.intervalMs ?? defaults.retention.intervalMs,
      },
      clientTtlMs: options.clientTtlMs ?? defaults.clientTtlMs,
      gcIntervalMs: options.gcIntervalMs ?? defaults.gcIntervalMs,
      bus,
      cluster: options.cluster,
    })
    engine.start()
  } catch (err) {
    await bus?.close().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }

  const serveStatic: StaticHandler | undefined =
    options.staticDir === undefined ? undefined : createStaticHandler(options.staticDir)
  const inFlight = new Set<ServerResponse>()
  let shuttingDown = false
  let httpServer: HttpServer | undefined
  let ownsHttpServer = false
  let transport: WsTransport | undefined
  let detachRequests: (() => void) | undefined
  let closing: Promise<void> | undefined

  // Durable Streams bodies are limited like any publish payload (DESIGN §8), unless set apart.
  const handleDurableStreams = createDurableStreamsHandler({
    engine,
    authenticate,
    anonymousUser: authenticate === anonymousAuthenticate ? ANONYMOUS_USER : undefined,
    logger,
    metrics,
    options: {
      ...durableStreamsDefaults,
      maxBodyBytes: limits.maxPayloadBytes,
      ...options.durableStreams,
    },
  })

  const apiContext = {
    engine,
    authenticate,
    metrics,
    logger,
    maxBodyBytes: limits.maxPayloadBytes,
    isShuttingDown: () => shuttingDown,
  }

  /** Seqline's request pipeline; `fallback` gets what no Seqline handler takes. */
  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    fallback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
  ): Promise<void> => {
    inFlight.add(res)
    res.once('close', () => inFlight.delete(res))
    try {
      const path = (req.url ?? '/').split('?', 1)[0]
      if (shuttingDown && path !== '/healthz' && path !== '/metrics') {
        res.setHeader('Retry-After', Math.ceil(retryAfterMs.max / 1000))
        res.setHeader('Connection', 'close')
        sendJsonError(res, new SeqlineError(ErrorCode.SHUTTING_DOWN, 'The server is shutting down'))
        return
      }
      if (await handleApiRequest(req, res, apiContext)) return
      if (await handleDurableStreams(req, res)) return
      if (serveStatic !== undefined && (await serveStatic(req, res))) {
        countRequest(req, res, 'static')
        return
      }
      if (fallback !== undefined) {
        fallback(req, res)
        return
      }
      countRequest(req, res, 'unmatched')
      sendJson(res, 404, { error: { code: ErrorCode.NOT_FOUND, message: 'No such route' } })
    } catch (err) {
      logger.error({ err, method: req.method, url: req.url }, 'HTTP request failed')
      sendJsonError(res, err)
    }
  }

  const countRequest = (req: IncomingMessage, res: ServerResponse, route: string): void => {
    res.once('finish', () => {
      metrics.httpRequests.inc({
        method: req.method ?? 'GET',
        route,
        status: String(res.statusCode),
      })
    })
  }

  const attach = (server: HttpServer): void => {
    if (httpServer !== undefined) throw new Error('This Seqline server is already attached')
    if (closing !== undefined) throw new Error('This Seqline server is closed')
    httpServer = server
    // Take over the existing request listeners (socket.io's approach): they get what we do not serve.
    const previous = server.listeners('request') as ((
      req: IncomingMessage,
      res: ServerResponse,
    ) => void)[]
    server.removeAllListeners('request')
    const fallback =
      previous.length === 0
        ? undefined
        : (req: IncomingMessage, res: ServerResponse) => {
            for (const listener of previous) listener.call(server, req, res)
          }
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      void handle(req, res, fallback)
    }
    server.on('request', onRequest)
    detachRequests = () => {
      server.off('request', onRequest)
      for (const listener of previous) server.on('request', listener)
    }
    transport = attachWebSocket(server, {
      engine,
      authenticate,
      logger,
      metrics,
      heartbeatMs,
      allowedOrigins: options.allowedOrigins,
    })
  }

  const listen = async (port = defaults.port, host?: string): Promise<{ port: number }> => {
    const server = createHttpServer()
    attach(server)
    ownsHttpServer = true
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return { port: (server.address() as AddressInfo).port }
  }

  const shutdown = async (): Promise<void> => {
    shuttingDown = true
    const server = httpServer
    // 1. Stop accepting: no new connections (when the server is ours) and no new WebSockets.
    const httpClosed =
      server !== undefined && ownsHttpServer
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve()
    if (server !== undefined && ownsHttpServer) server.closeIdleConnections()
    // 2. Tell every socket to go away, with a jittered reconnect hint.
    await transport?.close({ retryAfterMs })
    // 3. Let in-flight requests finish (an ack or a publish being committed), within a bound.
    await drain(inFlight, REQUEST_DRAIN_MS)
    if (server !== undefined && ownsHttpServer) server.closeAllConnections()
    detachRequests?.()
    // 4. Commit what is pending, then release the store.
    await engine.close()
    await bus?.close()
    await store.close()
    await httpClosed
    logger.info('seqline stopped')
  }

  return {
    engine,
    metrics,
    logger,
    get address() {
      const info = httpServer?.address()
      if (info === null || info === undefined || typeof info === 'string') return undefined
      return { port: info.port, host: info.address }
    },
    listen,
    attach,
    publish: (stream, data) => engine.publish(stream, data, { from: null }),
    close: () => (closing ??= shutdown()),
  }
}

/** Resolves when every response in `inFlight` has closed, or after `timeoutMs`. */
async function drain(inFlight: Set<ServerResponse>, timeoutMs: number): Promise<void> {
  if (inFlight.size === 0) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    timer.unref()
    let pending = inFlight.size
    for (const res of inFlight) {
      res.once('close', () => {
        if (--pending === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}
