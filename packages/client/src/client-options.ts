import type { BackoffOptions } from './backoff.js'
import type { Clock } from './clock.js'
import type { Environment } from './environment.js'
import type { Storage } from './storage/storage.js'
import type { Transport } from './transport.js'
import type { WebSocketConstructor } from './websocket-transport.js'

/**
 * Options of {@link createClient}. Only `url` and `getToken` (or `token`) are required; see
 * {@link defaults}.
 */
export interface ClientOptions {
  /** The server's http(s) base URL, e.g. `https://chat.example.com`. */
  readonly url: string
  /**
   * Returns a valid user token. Called for every connection, and — when the server announces when
   * the token expires (`expiresAt` in `welcome` / `authOk`) — shortly before that moment, to hand
   * the open connection a fresh token without reconnecting: at `expiresAt − min(30 s, half the
   * remaining lifetime)`, and at once when the server reports TOKEN_EXPIRED. A failure is reported
   * as an `error` event (`TOKEN_REFRESH_FAILED`) and retried with backoff.
   *
   * @example
   * createClient({ url, getToken: async () => (await fetch('/api/seqline-token')).text() })
   */
  readonly getToken?: () => string | Promise<string>
  /**
   * The user's token: a string (never refreshed: when it expires the server closes the connection
   * and every reconnect is refused), or a function, which works like `getToken`.
   */
  readonly token?: string | (() => string | Promise<string>)
  /**
   * Where identity, positions and the outbox live. Default: {@link browserStorage} in browsers,
   * {@link MemoryStorage} elsewhere (pass a {@link FileStorage} in Node to survive restarts).
   */
  readonly storage?: Storage
  /** WebSocket constructor; default: the global one, else the `ws` package. */
  readonly WebSocket?: WebSocketConstructor
  /**
   * How to reach the server:
   * - `'auto'` (default): WebSocket, switching to `'http'` for the rest of the client's life when
   *   the WebSocket cannot connect although the server answers HTTP (see {@link fallbackTransport});
   * - `'websocket'`;
   * - `'http'`: an HTTP session — one SSE read for every stream plus one POST at a time — that
   *   switches to long-polling for good when a proxy buffers the SSE response (see `sseProbeMs`);
   * - `'long-poll'`: the HTTP session, long-polling from the start;
   * - or a {@link Transport} of your own (e.g. a tuned `HttpSessionTransport` from
   *   `@seqline/client/http`).
   *
   * The HTTP transport is loaded on first use (a separate chunk). The open state's `transport`
   * says which one is in use: `'websocket'`, `'sse'` or `'long-poll'`.
   */
  readonly transport?: Transport | 'auto' | 'websocket' | 'http' | 'long-poll'
  /** `fetch` for the HTTP transport, the fallback probe and `close({ forget })`; default: the global one. */
  readonly fetch?: typeof fetch
  /**
   * HTTP transport: how long the first byte of an SSE response may take before the client decides
   * that a proxy buffers responses and long-polls instead.
   */
  readonly sseProbeMs?: number
  /** Time source; tests pass a {@link ManualClock}. */
  readonly clock?: Clock
  /** Random source in [0, 1) for jitter. */
  readonly random?: () => number
  /** Network and page-lifecycle signals; default: the browser's, none in Node. `null`: none. */
  readonly environment?: Environment | null
  /** Reconnect backoff (full jitter, capped). */
  readonly backoff?: BackoffOptions
  /** Time allowed from dialing to `welcome`. */
  readonly connectTimeoutMs?: number
  /** Overrides the heartbeat interval announced by the server. */
  readonly heartbeatMs?: number
  /** Delay before processed offsets are acked, batching a burst into one `ack` per stream. */
  readonly ackDelayMs?: number
  /** Unacknowledged publishes pipelined per stream. */
  readonly maxInFlight?: number
}

/** Default values of the optional {@link ClientOptions}. */
export const defaults = {
  backoff: { baseMs: 500, maxMs: 30_000 },
  connectTimeoutMs: 10_000,
  ackDelayMs: 100,
  maxInFlight: 64,
} as const
