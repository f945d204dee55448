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

/** What a transport does when one of its sockets fails or closes (one object per transport). */
interface SocketEvents {
  failed(socket: SeqlineSocket, err: Error): void
  closed(socket: SeqlineSocket): void
}

/**
 * A `ws` socket that carries its Seqline connection and handles its own events: `ws` reports them
 * through `emit`, and handling the four Seqline needs there rather than in listeners keeps every
 * socket's listener table empty — in a room of thousands, a table of four listeners per socket
 * costs more than the socket's own fields. Listeners that others add still run.
 */
class SeqlineSocket extends WebSocket {
  connection!: ProtocolConnection
  admitted!: AdmittedConnection
  /** Set once the socket belongs to a connection; events before that are `ws`'s alone. */
  events: SocketEvents | undefined = undefined
  /** Heard from since the last heartbeat. */
  alive = true

  // `ws`'s typings declare `emit` with `any[]` arguments.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override emit(event: string | symbol, ...args: any[]): boolean {
    const events = this.events
    if (events !== undefined) {
      switch (event) {
        case 'message':
          this.#received(args[0] as RawData, args[1] as boolean)
          break
        case 'pong':
          this.alive = true
          break
        case 'error':
          events.failed(this, args[0] as Error)
          // Handled: an `error` nobody listens to would otherwise throw.
          if (this.listenerCount('error') === 0) return true
          break
        case 'close':
          events.closed(this)
          break
      }
    }
    return super.emit(event, ...args)
  }

  #received(data: RawData, isBinary: boolean): void {
    this.alive = true
    const text = isBinary ? undefined : Array.isArray(data) ? Buffer.concat(data) : data
    this.connection.receive(text?.toString())
  }
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
      ws.events = events
      live.add(ws)
      metrics.connections.inc()
    })
  }
  const events: SocketEvents = {
    failed(socket, err) {
      logger.debug({ err, connection: socket.connection.id }, 'socket error')
    },
    closed(socket) {
      // `ws` emits 'close' once.
      live.delete(socket)
      metrics.connections.dec()
      socket.admitted.release()
      socket.connection.linkClosed()
    },
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
