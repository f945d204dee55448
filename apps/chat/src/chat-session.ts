import { type SeqlineClient, createClient } from '@seqline/client'
import { ChaosTransport } from './chaos-transport.js'
import { NetworkSwitch } from './network-switch.js'
import { PendingStore } from './pending-store.js'
import { ProxyTransport } from './proxy-transport.js'
import { WireStats } from './wire-stats.js'

/** How the user signed in. */
export interface Credentials {
  /** `dev`: by name (the server's dev auth, no secret); `jwt`: with a token (a bearer secret). */
  readonly kind: 'dev' | 'jwt'
  /** Dev mode: the user id itself. JWT mode: the token. */
  readonly token: string
  /** The user id, once known (dev mode: the token; JWT mode: from the server's `welcome`). */
  readonly user: string
}

/** Everything one tab's chat runs on: one Seqline client (a tab is a client, G7) and its tools. */
export interface ChatSession {
  readonly credentials: Credentials
  readonly client: SeqlineClient
  readonly network: NetworkSwitch
  readonly transport: ChaosTransport
  /** The simulated proxy between the page and the server ("proxy" switch). */
  readonly proxy: ProxyTransport
  readonly stats: WireStats
  readonly pending: PendingStore
  /** `fetch` that honours the "offline" switch: HTTP is traffic too. */
  readonly fetch: typeof fetch
  close(): Promise<void>
}

/** Creates the session of one tab. */
export function createChatSession(credentials: Credentials): ChatSession {
  const url = location.origin
  const network = new NetworkSwitch()
  const stats = new WireStats()
  const guardedFetch: typeof fetch = (input, init) =>
    network.simulatedOffline
      ? Promise.reject(new TypeError('offline (simulated)'))
      : fetch(input, init)
  // Behind a buffering proxy the SSE read stays silent: after 3 s the SDK long-polls instead.
  const proxy = new ProxyTransport({ url, fetch: guardedFetch, sseProbeMs: 3_000 })
  const transport = new ChaosTransport({
    inner: proxy,
    stats,
    blocked: () => network.simulatedOffline,
  })
  const client = createClient({
    url,
    token: credentials.token,
    transport,
    environment: network,
    // A chat wants to be back quickly: a short, capped backoff (still with full jitter).
    backoff: { baseMs: 250, maxMs: 5_000 },
    connectTimeoutMs: 5_000,
  })
  return {
    credentials,
    client,
    network,
    transport,
    proxy,
    stats,
    pending: new PendingStore(`seqline-chat:pending:${credentials.user}`),
    fetch: guardedFetch,
    close: async () => {
      transport.setChaos(false)
      await client.close()
    },
  }
}
