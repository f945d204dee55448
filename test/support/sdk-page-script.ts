import { MemoryStorage, type SeqlineClient, createClient } from '@seqline/client'

// The script of the SDK test page (see sdk-page.ts): bundled with @seqline/client for the browser,
// it follows streams with one client and records what arrives, for a test to read back.

/** What {@link SdkPageApi.follow} is given. */
export interface FollowOptions {
  /** The server's base URL as the page reaches it (usually `location.origin`). */
  readonly url: string
  readonly token: string
  readonly streams: readonly string[]
  readonly transport?: 'auto' | 'http' | 'long-poll'
  readonly connectTimeoutMs?: number
  readonly sseProbeMs?: number
}

/** What the page has seen so far. */
export interface FollowReport {
  /** The `data` of every message delivered, per stream, in delivery order. */
  readonly received: Record<string, unknown[]>
  /** Streams whose subscription the server confirmed. */
  readonly subscribed: readonly string[]
  /** The `transport` of every `open` state, in order (an HTTP switch to long-poll adds one). */
  readonly transports: readonly string[]
  /** The client's state now: its `kind`, and its `transport` when open. */
  readonly state: { readonly kind: string; readonly transport?: string }
  /** `error` events of the client and throws of message callbacks. */
  readonly errors: readonly string[]
}

/** What the page puts on `window.seqlinePage`. */
export interface SdkPageApi {
  follow(options: FollowOptions): void
  report(): FollowReport
  close(): Promise<void>
}

let client: SeqlineClient | undefined
const received: Record<string, unknown[]> = {}
const subscribed = new Set<string>()
const transports: string[] = []
const errors: string[] = []

const api: SdkPageApi = {
  follow(options) {
    client = createClient({
      url: options.url,
      token: options.token,
      storage: new MemoryStorage(),
      backoff: { baseMs: 100, maxMs: 1_000 },
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.sseProbeMs === undefined ? {} : { sseProbeMs: options.sseProbeMs }),
    })
    client.on('state', ({ to }) => {
      if (to.kind === 'open') transports.push(to.transport)
    })
    client.on('error', (error) => errors.push(String(error)))
    for (const stream of options.streams) {
      const list: unknown[] = []
      received[stream] = list
      client.stream(stream).subscribe({
        from: 'latest',
        onSubscribed: () => void subscribed.add(stream),
        onMessage: (m) => void list.push(m.data),
      })
    }
  },
  report() {
    const state = client?.state
    return {
      received,
      subscribed: [...subscribed],
      transports,
      state:
        state === undefined
          ? { kind: 'none' }
          : state.kind === 'open'
            ? { kind: state.kind, transport: state.transport }
            : { kind: state.kind },
      errors,
    }
  },
  close: async () => {
    await client?.close()
  },
}

Object.assign(globalThis, { seqlinePage: api })
