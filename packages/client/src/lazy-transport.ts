import { ABNORMAL_CLOSURE, type Transport, type TransportLink } from './transport.js'

/**
 * A transport whose code is loaded on first use, so that bundlers split it out of the main chunk:
 * apps that never fall back to HTTP never download the HTTP transport. A failed load ends the link
 * like a failed dial (the connection retries with backoff).
 */
export function lazyTransport(name: string, load: () => Promise<Transport>): Transport {
  let loading: Promise<Transport> | undefined
  return {
    name,
    connect(handlers): TransportLink {
      let link: TransportLink | undefined
      let closed = false
      ;(loading ??= load()).then(
        (transport) => {
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
