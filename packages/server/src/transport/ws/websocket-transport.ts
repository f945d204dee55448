import { randomBytes } from 'node:crypto'
import { type IncomingMessage, type Server as HttpServer, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { ErrorCode, SeqlineError, httpStatusOf } from '@seqline/protocol'
import type { Logger } from 'pino'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { AdmittedConnection, ConnectionGate } from '../../connection/connection-gate.js'
import type { ConnectionContext } from '../../connection/connection-context.js'
import { ProtocolConnection } from '../../connection/protocol-connection.js'
import type { Metrics } from '../../observability/metrics.js'
import { WsLink } from './ws-link.js'

/** Path of the WebSocket endpoint (DESIGN §5). */
export const WS_PATH = '/v1/ws'

/** Options of {@link attachWebSocket}. */
export interface WebSocketTransportOptions {
  readonly context: ConnectionContext
  readonly gate: ConnectionGate
  readonly logger: Logger
  readonly metrics: Metrics
  /** Browser origins allowed to connect; undefined allows any (non-browser clients send none). */
  readonly allowedOrigins: readonly string[] | undefined
  /** Largest frame read at all; larger ones close the connection with 1009. */
  readonly maxFrameBytes: number
}

/** The WebSocket endpoint of one HTTP server. */
export interface WebSocketTransport {
  readonly connectionCount: number
  /**
   * Goes away gracefully: every connection gets `goaway` with a retry delay drawn uniformly from
   * `retryAfterMs` — so a rolling deploy does not turn into a reconnect stampede — then a 1001 close.
   */
  close(retryAfterMs: { readonly min: number; readonly max: number }): Promise<void>
}

/**
 * A `ws` socket that carries its Seqline connection, so that one set of listener functions serves
 * every socket (`this` is the socket): a room of thousands makes no closures per connection.
 */
class SeqlineSocket extends WebSocket {
  connection!: ProtocolConnection
  admitted!: AdmittedConnection
  /** Heard from since the last heartbeat. */
  alive = true
}

// `ws` calls its listeners with the socket as `this`; its typings know it as a plain WebSocket.

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const socket = this as SeqlineSocket
  socket.alive = true
  const text = isBinary ? undefined : Array.isArray(data) ? Buffer.concat(data) : data
  socket.connection.receive(text?.toString())
}

function onPong(this: WebSocket): void {
  ;(this as SeqlineSocket).alive = true
}

/**
 * Attaches the WebSocket transport to an HTTP server: upgrades on `/v1/ws` (any other path is
 * refused at once, unless another upgrade handler of the server takes it), origin check, admission
 * through the node's connection gate, frame size cap, and the server side of heartbeats (protocol
 * pings; a connection that misses two is terminated, so half-open sockets do not hold presence or
 * slots).
 */
export function attachWebSocket(
  httpServer: HttpServer,
  options: WebSocketTransportOptions,
): WebSocketTransport {
  const { context, gate, logger, metrics } = options
  const live = new Set<SeqlineSocket>()
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    // `live` tracks them.
    clientTracking: false,
    WebSocket: SeqlineSocket,
  })
  let closing = false

  const refuse = (socket: Duplex, err: SeqlineError, retryAfter?: number): void => {
    const status = httpStatusOf[err.code]
    const body = JSON.stringify({ error: { code: err.code, message: err.message } })
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        (retryAfter === undefined ? '' : `Retry-After: ${retryAfter}\r\n`) +
        `\r\n${body}`,
    )
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path !== WS_PATH) {
      // Another upgrade handler of this server (an app's own WebSocket endpoint) may take it;
      // otherwise it would hang forever, holding a socket: refuse it now.
      if (httpServer.listenerCount('upgrade') <= 1) {
        refuse(socket, new SeqlineError(ErrorCode.NOT_FOUND, 'No WebSocket endpoint here'))
      }
      return
    }
    if (closing) {
      refuse(socket, new SeqlineError(ErrorCode.SHUTTING_DOWN, 'The server is shutting down'), 5)
      return
    }
    const origin = req.headers.origin
    if (
      origin !== undefined &&
      options.allowedOrigins !== undefined &&
      !options.allowedOrigins.includes(origin)
    ) {
      refuse(socket, new SeqlineError(ErrorCode.FORBIDDEN, 'This origin may not connect'))
      return
    }
    let admitted: ReturnType<ConnectionGate['admit']>
    try {
      admitted = gate.admit(req.socket.remoteAddress ?? 'unknown')
    } catch (err) {
      const e = err as SeqlineError
      refuse(socket, e, e.code === ErrorCode.OVERLOADED ? gate.retryAfterSeconds() : undefined)
      return
    }
    // Released here if the handshake fails; once open, the WebSocket's close releases it.
    const releaseAdmitted = (): void => admitted.release()
    socket.once('close', releaseAdmitted)
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', releaseAdmitted)
      const id = `k_${randomBytes(9).toString('base64url')}`
      ws.admitted = admitted
      ws.connection = new ProtocolConnection(new WsLink(id, ws, socket), context, admitted)
      live.add(ws)
      metrics.connections.inc()
      ws.on('message', onMessage)
      ws.on('pong', onPong)
      ws.on('error', onError)
      // `ws` emits 'close' once: `on` spares the wrapper `once` makes per connection.
      ws.on('close', onClose)
    })
  }
  function onError(this: WebSocket, err: Error): void {
    logger.debug({ err, connection: (this as SeqlineSocket).connection.id }, 'socket error')
  }
  function onClose(this: WebSocket): void {
    const socket = this as SeqlineSocket
    live.delete(socket)
    metrics.connections.dec()
    socket.admitted.release()
    socket.connection.linkClosed()
  }
  httpServer.on('upgrade', onUpgrade)

  const heartbeat = setInterval(() => {
    for (const socket of live) {
      if (!socket.alive) {
        socket.terminate()
        continue
      }
      socket.alive = false
      socket.ping()
    }
  }, context.settings.heartbeatMs)
  heartbeat.unref()

  return {
    get connectionCount() {
      return live.size
    },
    async close(retryAfterMs) {
      closing = true
      clearInterval(heartbeat)
      httpServer.off('upgrade', onUpgrade)
      const closed = [...live].map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once('close', () => resolve())
            const delay = Math.round(
              retryAfterMs.min + Math.random() * (retryAfterMs.max - retryAfterMs.min),
            )
            socket.connection.goAway(delay)
          }),
      )
      await Promise.all(closed)
      wss.close()
    },
  }
}
