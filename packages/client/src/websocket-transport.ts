import { CloseCode, parseServerFrame } from '@seqline/protocol'
import {
  ABNORMAL_CLOSURE,
  type Transport,
  type TransportHandlers,
  type TransportLink,
} from './transport.js'

/** The subset of the WHATWG `WebSocket` the transport uses; `ws` and browsers both provide it. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** A `WebSocket` constructor: the browser's, `ws`'s, or a test double. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Options of {@link webSocketTransport}. */
export interface WebSocketTransportOptions {
  /** The server's http(s) base URL; the transport connects to `<url>/v1/ws` over ws(s). */
  readonly url: string
  /**
   * The constructor to use. Default: the global `WebSocket`, else the `ws` package (Node 20 has no
   * global WebSocket).
   */
  readonly WebSocket?: WebSocketConstructor
}

/** Converts an http(s) base URL into the WebSocket endpoint URL. */
export function webSocketUrl(base: string): string {
  const url = new URL(base)
  if (url.protocol === 'http:') url.protocol = 'ws:'
  else if (url.protocol === 'https:') url.protocol = 'wss:'
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/ws`
  return url.toString()
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global !== undefined) return global
  // Node 20 has no global WebSocket. Loaded lazily so browser bundles never include `ws`.
  const module = await import('ws')
  return module.WebSocket as unknown as WebSocketConstructor
}

/**
 * The WebSocket transport: JSON text frames on `<url>/v1/ws`.
 *
 * @example
 * import { WebSocket } from 'ws'
 * createClient({ url, token, transport: webSocketTransport({ url, WebSocket }) })
 */
export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  const endpoint = webSocketUrl(options.url)
  let constructorPromise: Promise<WebSocketConstructor> | undefined
  return {
    name: 'websocket',
    connect(handlers: TransportHandlers): TransportLink {
      let socket: WebSocketLike | undefined
      let done = false
      const finish = (code: number, reason: string, error?: unknown): void => {
        if (done) return
        done = true
        detach(socket)
        handlers.onClose(error === undefined ? { code, reason } : { code, reason, error })
      }
      const attach = (ws: WebSocketLike): void => {
        ws.onopen = () => {
          if (!done) handlers.onOpen()
        }
        ws.onmessage = (event) => {
          if (done) return
          let frame
          try {
            frame = parseServerFrame(String(event.data))
          } catch {
            // An unknown or malformed frame from a newer server: ignore it rather than drop the link.
            return
          }
          handlers.onFrame(frame)
        }
        ws.onerror = (error) => finish(ABNORMAL_CLOSURE, 'error', error)
        ws.onclose = (event) => finish(event.code, event.reason)
      }
      const ctor =
        options.WebSocket !== undefined
          ? Promise.resolve(options.WebSocket)
          : (constructorPromise ??= defaultWebSocket())
      ctor.then(
        (WebSocketClass) => {
          if (done) return
          try {
            socket = new WebSocketClass(endpoint)
          } catch (error) {
            finish(ABNORMAL_CLOSURE, 'constructor failed', error)
            return
          }
          attach(socket)
        },
        (error: unknown) => finish(ABNORMAL_CLOSURE, 'no WebSocket available', error),
      )
      return {
        send(frame) {
          // A frame sent on a link that is not open is lost on purpose: the state machine only
          // sends while open, and everything that must arrive is re-sent after a reconnect.
          if (!done && socket !== undefined && socket.readyState === 1) {
            socket.send(JSON.stringify(frame))
          }
        },
        close(code: number = CloseCode.NORMAL, reason = '') {
          if (done) return
          done = true
          const ws = socket
          detach(ws)
          if (ws === undefined) return
          // `terminate()` (ws) drops a blackholed link at once instead of waiting for a close
          // handshake that will never come.
          const terminate = (ws as { terminate?: () => void }).terminate
          if (typeof terminate === 'function' && code !== CloseCode.NORMAL) terminate.call(ws)
          else {
            try {
              ws.close(code, reason)
            } catch {
              // Closing a socket that never opened may throw in some runtimes; it is gone anyway.
            }
          }
        },
      }
    },
  }
}

function detach(socket: WebSocketLike | undefined): void {
  if (socket === undefined) return
  socket.onopen = null
  socket.onmessage = null
  socket.onclose = null
  // Keep an error listener: `ws` throws on an 'error' event without one.
  socket.onerror = () => {}
}
