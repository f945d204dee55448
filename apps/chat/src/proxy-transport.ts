import {
  type Transport,
  type TransportHandlers,
  type TransportLink,
  fallbackTransport,
  webSocketTransport,
} from '@seqline/client'
import { HttpSessionTransport } from '@seqline/client/http'

/**
 * The network between the page and the server, as the reliability lab's "proxy" switch sets it:
 *
 * - `direct`: nothing in between; the SDK uses its WebSocket;
 * - `no-websocket`: a proxy that refuses WebSocket upgrades — every WebSocket attempt fails before
 *   a frame, while HTTP gets through;
 * - `buffering`: the same, and it holds every HTTP response until the response has ended (some
 *   corporate proxies and anti-virus gateways do): an SSE response never shows a byte.
 */
export type ProxyMode = 'direct' | 'no-websocket' | 'buffering'

/** Options of {@link ProxyTransport}. */
export interface ProxyTransportOptions {
  /** The server's base URL. */
  readonly url: string
  /** The page's `fetch` (the "offline" switch's): the simulated proxy sits in front of it. */
  readonly fetch: typeof fetch
  /** How long an SSE response may stay silent before the SDK switches to long-poll. */
  readonly sseProbeMs?: number
}

/**
 * The SDK's own `'auto'` transport — WebSocket, falling back to the HTTP session for good after
 * WebSocket attempts that fail while `/healthz` answers, and SSE switching to long-poll when no
 * byte arrives — put behind a simulated proxy. The proxy only refuses WebSockets and holds HTTP
 * responses; the switches themselves are the SDK's detection at work. Changing the mode cuts the
 * current link and starts from WebSocket again, as a fresh page behind that proxy would.
 */
export class ProxyTransport implements Transport {
  readonly #options: ProxyTransportOptions
  #mode: ProxyMode = 'direct'
  #current: Transport
  #kill: (() => void) | undefined

  constructor(options: ProxyTransportOptions) {
    this.#options = options
    this.#current = this.#auto()
  }

  /** `'websocket'`, `'sse'` or `'long-poll'`: what the SDK uses now. */
  get name(): string {
    return this.#current.name
  }

  get mode(): ProxyMode {
    return this.#mode
  }

  /** Puts another proxy in front of the page: the current link is cut, the SDK dials again. */
  setMode(mode: ProxyMode): void {
    if (mode === this.#mode) return
    this.#mode = mode
    this.#current = this.#auto()
    const kill = this.#kill
    this.#kill = undefined
    kill?.()
  }

  connect(handlers: TransportHandlers): TransportLink {
    let live = true
    const link = this.#current.connect({
      onOpen: () => {
        if (live) handlers.onOpen()
      },
      onFrame: (frame) => {
        if (live) handlers.onFrame(frame)
      },
      onTransportChange: (name) => {
        if (live) handlers.onTransportChange?.(name)
      },
      onClose: (info) => {
        if (!live) return
        live = false
        handlers.onClose(info)
      },
    })
    this.#kill = () => {
      if (!live) return
      live = false
      link.close(4999, 'proxy changed')
      handlers.onClose({ code: 1006, reason: 'the proxy changed' })
    }
    return {
      send: (frame) => {
        if (live) link.send(frame)
      },
      close: (code, reason) => {
        live = false
        link.close(code, reason)
      },
    }
  }

  /** A fresh `'auto'` transport through the current proxy. */
  #auto(): Transport {
    const { url, sseProbeMs } = this.#options
    const fetch = this.#fetch
    return fallbackTransport(
      this.#webSocket(webSocketTransport({ url })),
      () =>
        new HttpSessionTransport({
          url,
          fetch,
          ...(sseProbeMs === undefined ? {} : { sseProbeMs }),
        }),
      { url, fetch },
    )
  }

  /** The WebSocket, unless the proxy refuses upgrades: then each attempt fails before a frame. */
  #webSocket(inner: Transport): Transport {
    return {
      name: inner.name,
      connect: (handlers) => {
        if (this.#mode === 'direct') return inner.connect(handlers)
        // What a refused upgrade looks like to the page: the socket closes, abnormally, at once.
        const timer = setTimeout(
          () => handlers.onClose({ code: 1006, reason: 'WebSocket refused by the proxy' }),
          0,
        )
        return { send: () => {}, close: () => clearTimeout(timer) }
      },
    }
  }

  /** `fetch` through the proxy: behind a buffering one, a response shows up once it has ended. */
  readonly #fetch: typeof fetch = async (input, init) => {
    const res = await this.#options.fetch(input, init)
    if (this.#mode !== 'buffering') return res
    const body = await res.arrayBuffer()
    const empty = res.status === 204 || res.status === 205 || res.status === 304
    return new Response(empty ? null : body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    })
  }
}
