import type { ClientOptions } from './client-options.js'
import { defaults } from './client-options.js'
import type { Clock } from './clock.js'
import { fallbackTransport } from './fallback-transport.js'
import { lazyTransport } from './lazy-transport.js'
import type { Transport } from './transport.js'
import { webSocketTransport } from './websocket-transport.js'

/**
 * The transport that the `transport` option names: `'auto'` (WebSocket, falling back to the HTTP
 * session), `'websocket'`, `'http'` (HTTP session, SSE then long-poll), `'long-poll'`, or the
 * `Transport` given. The HTTP session transport is loaded on first use: code-split out of the main
 * bundle (see scripts/check-bundle-size.mjs).
 */
export function transportOf(options: ClientOptions, clock: Clock, random: () => number): Transport {
  const { transport = 'auto', url, fetch, sseProbeMs, WebSocket } = options
  if (typeof transport !== 'string') return transport
  // Options left undefined take their defaults.
  const ws = (): Transport => webSocketTransport({ url, WebSocket })
  const http = (mode: 'sse' | 'poll'): Transport =>
    lazyTransport(mode === 'sse' ? 'sse' : 'long-poll', async () => {
      const { HttpSessionTransport } = await import('./http-session-transport.js')
      return new HttpSessionTransport({
        url,
        mode,
        clock,
        random,
        backoff: options.backoff ?? defaults.backoff,
        fetch,
        sseProbeMs,
      })
    })
  if (transport === 'websocket') return ws()
  if (transport === 'http') return http('sse')
  if (transport === 'long-poll') return http('poll')
  return fallbackTransport(ws(), () => http('sse'), {
    url,
    ...(fetch === undefined ? {} : { fetch }),
  })
}
