import { CloseCode } from '@seqline/protocol'
import type { Transport, TransportHandlers, TransportLink } from './transport.js'

/** Options of {@link fallbackTransport}. */
export interface FallbackOptions {
  /** The server's http(s) base URL, probed with `GET /healthz` when the primary fails. */
  readonly url: string
  readonly fetch?: typeof fetch
  /** Failed primary links, each while the server answered HTTP, before switching. Default 2. */
  readonly after?: number
}

/**
 * WebSocket first, HTTP when the WebSocket cannot get through. A primary link that ends before any
 * frame arrived (the upgrade was refused, a proxy cut it, or it timed out) counts as a failure if
 * the server answers `GET /healthz` meanwhile — so a server that is simply down never causes a
 * switch. After `after` such failures in a row the fallback is used for the rest of the client's
 * life (create a new client to try WebSocket again). `name` tells which one is in use.
 *
 * Once the primary has carried a frame it is known to get through: later failures are ordinary
 * faults (a dropped network, a restarting server) and never cause a switch.
 *
 * @example
 * createClient({ url, getToken, transport: fallbackTransport(webSocketTransport({ url }), () => new HttpSessionTransport({ url }), { url }) })
 */
export function fallbackTransport(
  primary: Transport,
  fallback: () => Transport,
  options: FallbackOptions,
): Transport {
  let current = primary
  let failures = 0
  let everHeard = false
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const probe = (): void => {
    doFetch(`${options.url.replace(/\/+$/, '')}/healthz`, { cache: 'no-store' }).then(
      async (res) => {
        await res.body?.cancel()
        if (everHeard) return
        if (res.ok && current === primary && ++failures >= (options.after ?? 2)) {
          current = fallback()
        }
      },
      () => {},
    )
  }
  return {
    get name() {
      return current.name
    },
    connect(handlers: TransportHandlers): TransportLink {
      if (current !== primary) return current.connect(handlers)
      let heard = false
      // One attempt counts once, whether it closed on its own or the connection dropped it.
      let probed = false
      const failed = (): void => {
        if (heard || everHeard || probed) return
        probed = true
        probe()
      }
      const link = primary.connect({
        onOpen: () => handlers.onOpen(),
        onTransportChange: (name) => handlers.onTransportChange?.(name),
        onFrame: (frame) => {
          heard = true
          everHeard = true
          failures = 0
          handlers.onFrame(frame)
        },
        onClose: (info) => {
          failed()
          handlers.onClose(info)
        },
      })
      return {
        send: (frame) => link.send(frame),
        close(code, reason) {
          // Dropped by the connection before a word came back: a connect timeout (NORMAL = closing).
          if (code !== CloseCode.NORMAL) failed()
          link.close(code, reason)
        },
      }
    },
  }
}
