import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { CloseCode } from '@seqline/protocol'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { Authenticate } from '../auth/authenticator.js'
import type { Engine } from '../engine/engine.js'
import type { Metrics } from '../observability/metrics.js'
import { ClientRegistry } from './client-registry.js'
import { WsConnection } from './ws-connection.js'

/** Path of the WebSocket endpoint (DESIGN §5). */
export const WS_PATH = '/v1/ws'

export interface WsTransportOptions {
  readonly engine: Engine
  readonly authenticate: Authenticate
  readonly logger: Logger
  readonly metrics?: Metrics | undefined
  /** Ping interval; a connection silent for two intervals is terminated. */
  readonly heartbeatMs: number
  /** Browser origins allowed to connect; undefined allows any (non-browser clients send none). */
  readonly allowedOrigins?: readonly string[] | undefined
}

export interface WsTransport {
  readonly connectionCount: number
  /**
   * Goes away gracefully: every connection gets `goaway` with a retry delay drawn uniformly from
   * `retryAfterMs` — so a rolling deploy does not turn into a reconnect stampede — then a 1001 close.
   */
  close(options: {
    readonly retryAfterMs: { readonly min: number; readonly max: number }
  }): Promise<void>
}

/**
 * Attaches the WebSocket transport to an HTTP server: upgrades on `/v1/ws`, frame-level limits, and
 * the server side of heartbeats (protocol pings; a connection that misses two is terminated, so
 * half-open sockets do not hold presence or slots).
 */
export function attachWebSocket(httpServer: HttpServer, options: WsTransportOptions): WsTransport {
  const { engine, logger, metrics } = options
  const registry = new ClientRegistry(engine.limits.maxConnectionsPerClient)
  const connections = new Set<WsConnection>()
  // Frames above the payload limit (plus room for the envelope) still get a clean
  // PAYLOAD_TOO_LARGE; only absurd frames make `ws` close the connection (1009).
  const maxPayload = Math.max(engine.limits.maxPayloadBytes * 4, 1024 * 1024)
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false })
  let closing = false

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== WS_PATH) return
    const origin = req.headers.origin
    if (
      closing ||
      (origin !== undefined &&
        options.allowedOrigins !== undefined &&
        !options.allowedOrigins.includes(origin))
    ) {
      socket.end(
        closing ? 'HTTP/1.1 503 Service Unavailable\r\n\r\n' : 'HTTP/1.1 403 Forbidden\r\n\r\n',
      )
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new WsConnection(ws, socket, {
        engine,
        authenticate: options.authenticate,
        registry,
        logger,
        heartbeatMs: options.heartbeatMs,
      })
      connections.add(connection)
      metrics?.connections.inc()
      ws.once('close', () => {
        connections.delete(connection)
        metrics?.connections.dec()
      })
    })
  }
  httpServer.on('upgrade', onUpgrade)

  const heartbeat = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) {
        connection.socket.terminate()
        continue
      }
      connection.alive = false
      connection.socket.ping()
    }
  }, options.heartbeatMs)
  heartbeat.unref()

  return {
    get connectionCount() {
      return connections.size
    },
    async close({ retryAfterMs }) {
      closing = true
      clearInterval(heartbeat)
      httpServer.off('upgrade', onUpgrade)
      const closed = [...connections].map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.socket.once('close', () => resolve())
            const delay = Math.round(
              retryAfterMs.min + Math.random() * (retryAfterMs.max - retryAfterMs.min),
            )
            connection.send({ t: 'goaway', retryAfterMs: delay })
            connection.socket.close(CloseCode.GOING_AWAY, `retry=${delay}`)
            // A peer that never answers the close handshake is cut after a grace period.
            setTimeout(() => connection.socket.terminate(), 2000).unref()
          }),
      )
      await Promise.all(closed)
      wss.close()
    },
  }
}
