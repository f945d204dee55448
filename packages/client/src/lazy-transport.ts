import { ABNORMAL_CLOSURE, type Transport, type TransportLink } from './transport.js'

/**
 * A transport whose code is loaded on first use, so that bundlers split it out of the main chunk:
 * apps that never fall back to HTTP never download the HTTP transport. A failed load ends the link
 * like a failed dial (the connection retries with backoff). Its `name` is `name` until the
 * transport is loaded, then the loaded transport's.
 */
export function lazyTransport(name: string, load: () => Promise<Transport>): Transport {
  let loading: Promise<Transport> | undefined
  let loaded: Transport | undefined
  return {
    get name() {
      return loaded?.name ?? name
    },
    connect(handlers): TransportLink {
      let link: TransportLink | undefined
      let closed = false
      ;(loading ??= load()).then(
        (transport) => {
          loaded = transport
          if (!closed) link = transport.connect(handlers)
        },
        (error: unknown) => {
          loading = undefined
          if (!closed)
            handlers.onClose({ code: ABNORMAL_CLOSURE, reason: 'transport failed to load', error })
        },
      )
      return {
        send: (frame) => link?.send(frame),
        close(code, reason) {
          closed = true
          link?.close(code, reason)
        },
      }
    },
  }
}
