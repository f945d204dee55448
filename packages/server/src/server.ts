import {
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Authenticate, Authorize } from './auth/authenticator.js'
import { ApiKeyring } from './auth/api-keyring.js'
import { readAuthorizeSecret, resolveAuthorize } from './auth/authorize-option.js'
import type { Bus } from './bus/bus.js'
import { openBus } from './bus/open-bus.js'
import { ClientRegistry } from './connection/client-registry.js'
import { ConnectionGate } from './connection/connection-gate.js'
import type { ConnectionContext } from './connection/connection-context.js'
import { Engine } from './engine/engine.js'
import type { PresencePage } from './engine/presence/presence.js'
import { type FallbackHandler, createHttpPipeline } from './http/http-pipeline.js'
import { ChunkCache } from './http/durable-streams/chunk-cache.js'
import { durableStreamsSettings } from './http/durable-streams/durable-streams-context.js'
import { durableStreamsRoutes } from './http/durable-streams/durable-streams-routes.js'
import { backendApiRoutes } from './http/routes/backend-api-routes.js'
import { clientLifecycleRoutes } from './http/routes/client-lifecycle-routes.js'
import { clientRoutes } from './http/routes/client-routes.js'
import { deliveryStateRoutes } from './http/routes/delivery-state-routes.js'
import { healthRoutes, metricsRoute } from './http/routes/health-routes.js'
import { historyRoutes } from './http/routes/history-routes.js'
import { presenceRoute } from './http/routes/presence-route.js'
import { createStaticHandler } from './http/static-files.js'
import { type Logger, createLogger } from './observability/logger.js'
import { type Metrics, createMetrics } from './observability/metrics.js'
import { gracefulShutdown } from './server/graceful-shutdown.js'
import { WebhookService } from './server/webhook-service.js'
import { listenHost, resolveServerAuth } from './server/server-auth.js'
import { resolveSettings } from './settings/resolve-settings.js'
import type { ServerSettings, ServerSettingsInput } from './settings/server-settings.js'
import { openStore } from './store/open-store.js'
import type { Store } from './store/store.js'
import { HttpSessions } from './transport/http-session/http-sessions.js'
import { type WebSocketTransport, attachWebSocket } from './transport/ws/websocket-transport.js'
import { readWebhookSecret } from './webhooks/webhook-secret.js'

/**
 * Options of {@link createServer}: every setting of the server (see `seqline --help` and
 * docs/operations.md; anything left out takes its default), plus the objects only code can pass.
 */
export interface SeqlineServerOptions extends Omit<ServerSettingsInput, 'store' | 'auth' | 'bus'> {
  /** `sqlite:<path>`, `memory:`, `postgres://…`, or a `Store` (initialised here, closed by `close()`). */
  readonly store?: string | Store | undefined
  /**
   * `'dev'` (INSECURE: the token is the user id), `'none'` (NO auth: everyone is `anonymous`),
   * `'jwt:file:<secret-file>'`, `'jwt:<jwks.json>'`, `'jwt:<secret>'`, or a hook.
   */
  readonly auth?: 'dev' | 'none' | Authenticate | string | undefined
  /**
   * Who may do what (G8), in code. Default: everything but `manage` (with `auth: 'none'`,
   * everything). Not together with `permissions` or `authorizeCallback.url`.
   */
  readonly authorize?: Authorize | undefined
  /**
   * The HMAC secret of the authorize callback (`authorizeCallback.url`), when code has it;
   * otherwise it is read from `authorizeCallback.secretFile` or `SEQLINE_AUTHORIZE_SECRET`.
   */
  readonly authorizeSecret?: string | undefined
  /**
   * The HMAC secret webhook deliveries are signed with (`webhooks.url`), when code has it;
   * otherwise it is read from `webhooks.secretFile` or `SEQLINE_WEBHOOK_SECRET`.
   */
  readonly webhookSecret?: string | undefined
  /** Default: a pino logger on stdout at `logLevel`. */
  readonly logger?: Logger | undefined
  /**
   * Multi-node: `redis://…`, `postgres` (the store's database), `postgres://…`, or a `Bus`. Every
   * node of one deployment uses the same store and bus. `close()` closes it, like the store.
   */
  readonly bus?: string | Bus | null | undefined
}

/** Options of {@link SeqlineServer.publish}. */
export interface PublishOptions {
  /**
   * Makes the publish idempotent (G4): a retry with the same key returns the first publish's
   * offset instead of appending again (kept as long as producer state, `producerTtlMs`).
   */
  readonly idempotencyKey?: string | undefined
}

/** A running Seqline server. */
export interface SeqlineServer {
  readonly metrics: Metrics
  readonly logger: Logger
  /** The resolved settings it runs with. */
  readonly settings: ServerSettings
  /** Where the server listens, once `listen()` resolved (or the attached server listens). */
  readonly address: { readonly port: number; readonly host: string } | undefined
  /**
   * Creates an HTTP server, attaches to it and listens. `port` 0 picks a free port; without a
   * host, dev/none auth listens on loopback only.
   */
  listen(port?: number, host?: string): Promise<{ port: number }>
  /**
   * Serves Seqline on an existing HTTP server: its WebSocket endpoint and HTTP routes. Requests
   * Seqline does not handle go to the `request` listeners the server already had.
   */
  attach(httpServer: HttpServer): void
  /** Server-side publish of a JSON value; resolves once durable (G1). */
  publish(
    stream: string,
    data: unknown,
    options?: PublishOptions,
  ): Promise<{ epoch: string; offset: number; duplicate: boolean }>
  /** Deletes a stream; its subscribers everywhere are told. Resolves whether it existed. */
  deleteStream(stream: string): Promise<boolean>
  /**
   * Re-checks `authorize` for the user's live subscriptions (of `stream`, or all) on every node and
   * ends those no longer allowed with FORBIDDEN. Call it after taking a right away.
   */
  revoke(user: string, stream?: string): void
  /**
   * Ends the connections of a user or a client on every node. `final` (default true): their
   * credentials are revoked and the SDK stops (CLIENT_REVOKED); otherwise they may reconnect.
   */
  disconnect(target: { readonly user?: string; readonly client?: string }, final?: boolean): number
  /** Who is connected to a stream (one page, users sorted by id). */
  presence(stream: string, options?: { after?: string; limit?: number }): PresencePage
  /**
   * Graceful shutdown: stops accepting, sends `goaway` to every socket, finishes in-flight
   * requests, commits everything pending (every acknowledged publish is durable), closes the
   * store. Idempotent.
   */
  close(): Promise<void>
}

/**
 * Creates a Seqline server: resolves its settings, opens the store (and the bus), starts the
 * engine's periodic jobs, and is ready to `listen()` or `attach()`.
 *
 * @example
 * const server = await createServer({ store: 'sqlite:./data/seqline.db', auth: 'dev' })
 * await server.listen(8080, '127.0.0.1')
 * await server.publish('user:alice', { kind: 'notice' })
 * await server.close()
 */
export async function createServer(options: SeqlineServerOptions = {}): Promise<SeqlineServer> {
  const { store: storeOption, auth: authOption, logger: given, bus: busOption } = options
  const settings = resolveSettings({
    ...options,
    store: typeof storeOption === 'string' ? storeOption : undefined,
    auth: typeof authOption === 'string' ? authOption : undefined,
    bus: typeof busOption === 'string' || busOption === null ? busOption : undefined,
  } as ServerSettingsInput)
  const logger = given ?? createLogger({ level: settings.logLevel })
  const callback = settings.authorizeCallback
  const authorize = resolveAuthorize(
    {
      authorize: options.authorize,
      permissions: settings.permissions,
      authorizeCallback:
        callback.url === undefined
          ? undefined
          : {
              url: callback.url,
              secret:
                options.authorizeSecret ?? readAuthorizeSecret(callback.secretFile, process.env),
              timeoutMs: callback.timeoutMs,
              maxCacheSeconds: callback.maxCacheSeconds,
            },
    },
    logger,
  )
  const auth = resolveServerAuth(authOption ?? settings.auth, authorize, settings, logger)
  // Backend HTTP API: without a key, its routes answer 401 to every call.
  const apiKeyring = ApiKeyring.load({ file: settings.apiKeysFile, env: process.env })
  if (apiKeyring === undefined) logger.info('backend API off: no API key configured')
  else logger.info({ keyIds: apiKeyring.ids }, 'backend API on')
  const metrics = createMetrics()
  // Webhooks: lifecycle and unread events recorded in a durable log and delivered from it.
  const webhookUrl = settings.webhooks.url
  const webhooks =
    webhookUrl === undefined
      ? undefined
      : new WebhookService({
          settings: settings.webhooks,
          url: webhookUrl,
          secret:
            options.webhookSecret ?? readWebhookSecret(settings.webhooks.secretFile, process.env),
          logger,
          registry: metrics.registry,
        })
  const store = await openStore(storeOption ?? settings.store)
  let bus: Bus | undefined
  let engine: Engine
  try {
    bus = await openBus(
      typeof busOption === 'object' && busOption !== null ? busOption : settings.bus,
      {
        storeUrl: typeof storeOption === 'string' ? storeOption : settings.store,
        channel: settings.busChannel,
        logger,
      },
    )
    engine = new Engine(
      { store, bus, logger, metrics, authorize: auth.authorize, lifecycle: webhooks?.lifecycle },
      settings,
    )
    engine.start()
    await webhooks?.start(engine, store).catch(async (err: unknown) => {
      await engine.close()
      throw err
    })
  } catch (err) {
    await bus?.close().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }

  let shuttingDown = false
  const retryAfterSeconds = Math.ceil(settings.shutdown.retryAfterMaxMs / 1000)
  const ds = {
    engine,
    logger,
    metrics,
    settings: durableStreamsSettings(settings),
    chunkCache:
      settings.durableStreams.chunkCacheBytes > 0
        ? new ChunkCache(settings.durableStreams.chunkCacheBytes)
        : undefined,
  }
  const connectionContext: ConnectionContext = {
    engine,
    authenticate: auth.authenticate,
    registry: new ClientRegistry(settings.limits.maxConnectionsPerClient),
    logger,
    metrics,
    now: Date.now,
    settings: {
      heartbeatMs: settings.connections.heartbeatMs,
      helloTimeoutMs: settings.connections.helloTimeoutMs,
      authGraceMs: settings.connections.authGraceMs,
      highWaterMark: settings.delivery.highWaterMark,
      // Room for the high-water mark, a message beyond it and answers: never below that.
      maxBufferedBytes: Math.max(
        settings.connections.maxBufferedBytes,
        settings.delivery.highWaterMark + 4 * settings.limits.maxPayloadBytes,
      ),
      maxInboundFrames: settings.connections.maxInboundFrames,
    },
  }
  const gate = new ConnectionGate(settings.connections)
  const sessions = new HttpSessions(
    connectionContext,
    gate,
    {
      ...settings.sessions,
      highWaterMark: settings.delivery.highWaterMark,
      maxBodyBytes: Math.max(settings.limits.maxPayloadBytes * 4, 1024 * 1024),
    },
    logger,
    metrics,
  )
  const routes = [
    ...sessions.routes(),
    ...healthRoutes({
      metrics,
      shuttingDown: () => shuttingDown,
      serveMetrics: settings.metrics.port === undefined,
    }),
    ...clientRoutes(engine, settings.limits.maxPayloadBytes),
    ...clientLifecycleRoutes(engine),
    ...deliveryStateRoutes({ engine, logger }),
    presenceRoute(engine),
    ...historyRoutes(engine),
    ...durableStreamsRoutes(ds),
    ...backendApiRoutes({ engine, logger, maxPayloadBytes: settings.limits.maxPayloadBytes }),
  ]
  const staticFiles: FallbackHandler | undefined =
    settings.staticDir === undefined ? undefined : createStaticHandler(settings.staticDir)
  const inFlight = new Set<ServerResponse>()
  let httpServer: HttpServer | undefined
  let metricsServer: HttpServer | undefined
  let ownsHttpServer = false
  let websocket: WebSocketTransport | undefined
  let detachRequests: (() => void) | undefined
  let closing: Promise<void> | undefined

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
    const hostHandlers: FallbackHandler = async (req, res) => {
      if (previous.length === 0) return false
      for (const listener of previous) listener.call(server, req, res)
      return true
    }
    const pipeline = createHttpPipeline({
      routes,
      authenticate: auth.authenticate,
      anonymous: auth.anonymous,
      verifyApiKey: (authorization) => apiKeyring?.verify(authorization)?.keyId,
      metrics,
      logger,
      fallbacks: staticFiles === undefined ? [hostHandlers] : [staticFiles, hostHandlers],
      shuttingDown: () => shuttingDown,
      retryAfterSeconds,
    })
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      inFlight.add(res)
      res.once('close', () => inFlight.delete(res))
      void pipeline(req, res)
    }
    server.on('request', onRequest)
    detachRequests = () => {
      server.off('request', onRequest)
      for (const listener of previous) server.on('request', listener)
    }
    websocket = attachWebSocket(server, {
      context: connectionContext,
      gate,
      logger,
      metrics,
      allowedOrigins: settings.allowedOrigins,
      // Frames above the payload limit (plus room for the envelope) still get a clean
      // PAYLOAD_TOO_LARGE; only absurd frames make `ws` close the connection (1009).
      maxFrameBytes: Math.max(settings.limits.maxPayloadBytes * 4, 1024 * 1024),
    })
  }

  const listenMetrics = async (): Promise<void> => {
    const port = settings.metrics.port
    if (port === undefined) return
    const pipeline = createHttpPipeline({
      routes: [metricsRoute(metrics)],
      authenticate: auth.authenticate,
      anonymous: undefined,
      metrics,
      logger,
      fallbacks: [],
      shuttingDown: () => false,
      retryAfterSeconds,
    })
    metricsServer = createHttpServer((req, res) => void pipeline(req, res))
    await listenOn(metricsServer, port, settings.metrics.host)
  }

  const listen = async (port = settings.port, host?: string): Promise<{ port: number }> => {
    const chosen = listenHost(host, auth, settings)
    const server = createHttpServer()
    // Answered in every response's `Keep-Alive: timeout=…`; a client that reuses a connection the
    // server is closing gets "socket closed", so the server should be the last to give up.
    server.keepAliveTimeout = settings.connections.keepAliveTimeoutMs
    attach(server)
    ownsHttpServer = true
    await listenOn(server, port, chosen)
    await listenMetrics()
    return { port: (server.address() as AddressInfo).port }
  }

  const shutdown = async (): Promise<void> => {
    shuttingDown = true
    await gracefulShutdown({
      ownedServer: ownsHttpServer ? httpServer : undefined,
      goAway: async () => {
        const retryAfterMs = {
          min: settings.shutdown.retryAfterMinMs,
          max: settings.shutdown.retryAfterMaxMs,
        }
        sessions.close(retryAfterMs)
        await websocket?.close(retryAfterMs)
      },
      inFlight,
      drainMs: settings.shutdown.drainMs,
      detach: () => detachRequests?.(),
      release: async () => {
        await webhooks?.stop()
        await engine.close()
        await bus?.close()
        await store.close()
        if (metricsServer !== undefined) {
          const server = metricsServer
          await new Promise<void>((resolve) => server.close(() => resolve()))
        }
      },
    })
    logger.info('seqline stopped')
  }

  return {
    metrics,
    logger,
    settings,
    get address() {
      const info = httpServer?.address()
      if (info === null || info === undefined || typeof info === 'string') return undefined
      return { port: info.port, host: info.address }
    },
    listen,
    attach,
    publish: (stream, data, publishOptions = {}) =>
      engine.streams.publish(stream, data, {
        from: null,
        // An idempotency key is a producer of its own, whose one publish is seq 0 of epoch 0.
        ...(publishOptions.idempotencyKey === undefined
          ? {}
          : { producer: { id: `server:${publishOptions.idempotencyKey}`, epoch: 0, seq: 0 } }),
      }),
    deleteStream: (stream) => engine.streams.delete(stream),
    revoke: (user, stream) => engine.sessions.revoke(user, stream),
    disconnect: (target, final = true) => engine.sessions.disconnect(target, final),
    presence: (stream, page = {}) => engine.presence.page(stream, page.after, page.limit ?? 100),
    close: () => (closing ??= shutdown()),
  }
}

function listenOn(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}
