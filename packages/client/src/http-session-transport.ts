import type { BackoffOptions } from './backoff.js'
import { type Clock, systemClock } from './clock.js'
import { HttpSession } from './http-session.js'
import type { ReadModes, SessionSettings } from './session-context.js'
import type { Transport, TransportHandlers, TransportLink } from './transport.js'

/** Options of {@link HttpSessionTransport}. Only `url` is required. */
export interface HttpSessionOptions {
  /** The server's http(s) base URL. */
  readonly url: string
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch
  readonly clock?: Clock
  readonly random?: () => number
  /** Delays of retried requests (full jitter, capped). */
  readonly backoff?: BackoffOptions
  /**
   * `'sse'` (default): read with SSE, and switch to long-polling for good when an SSE response
   * stays silent for `sseProbeMs` (a proxy that buffers responses). `'poll'`: long-poll from the
   * start.
   */
  readonly mode?: 'sse' | 'poll'
  /** How long the first byte of an SSE response may take before switching to long-poll. */
  readonly sseProbeMs?: number
  /** While frames flow over SSE, acknowledge them (`received`) at least this often… */
  readonly ackIntervalMs?: number
  /** …and at once after this many bytes. */
  readonly ackBytes?: number
  /** Upper bound of the frames of one POST, in bytes of JSON (a larger single frame goes alone). */
  readonly maxBatchBytes?: number
}

/** Default values of the optional {@link HttpSessionOptions}. */
export const httpSessionDefaults = {
  backoff: { baseMs: 500, maxMs: 30_000 },
  mode: 'sse',
  sseProbeMs: 5_000,
  ackIntervalMs: 250,
  ackBytes: 256 * 1024,
  maxBatchBytes: 256 * 1024,
} as const

/**
 * The HTTP transport (G5): the WebSocket protocol — the same frames, with their envelope, signals
 * and presence — carried by one HTTP session per connection over at most two requests at a time:
 * one event read (`GET /v1/sessions/<id>/events`, SSE or long-poll) for every stream of the client,
 * and one POST at a time for the client's frames. Used by `createClient({ transport: 'http' })`
 * (and by `'auto'` when the WebSocket cannot get through), loaded lazily; construct it yourself to
 * tune it.
 *
 * `name` is `'sse'`, or `'long-poll'` once the transport has switched (for the rest of its life:
 * a proxy that buffered one response will buffer the next).
 *
 * @example
 * import { HttpSessionTransport } from '@seqline/client/http'
 * createClient({ url, getToken, transport: new HttpSessionTransport({ url, sseProbeMs: 3_000 }) })
 */
export class HttpSessionTransport implements Transport {
  readonly #settings: SessionSettings
  #mode: 'sse' | 'poll'

  constructor(options: HttpSessionOptions) {
    this.#mode = options.mode ?? httpSessionDefaults.mode
    this.#settings = {
      base: options.url.replace(/\/+$/, ''),
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      backoff: options.backoff ?? httpSessionDefaults.backoff,
      sseProbeMs: options.sseProbeMs ?? httpSessionDefaults.sseProbeMs,
      ackIntervalMs: options.ackIntervalMs ?? httpSessionDefaults.ackIntervalMs,
      ackBytes: options.ackBytes ?? httpSessionDefaults.ackBytes,
      maxBatchBytes: options.maxBatchBytes ?? httpSessionDefaults.maxBatchBytes,
    }
  }

  /** `'sse'`, or `'long-poll'` (forced, or after a buffered SSE response). */
  get name(): 'sse' | 'long-poll' {
    return this.#mode === 'sse' ? 'sse' : 'long-poll'
  }

  connect(handlers: TransportHandlers): TransportLink {
    const modes: ReadModes = {
      mode: () => this.#mode,
      switchToPoll: () => {
        if (this.#mode === 'poll') return
        this.#mode = 'poll'
        handlers.onTransportChange?.(this.name)
      },
    }
    return new HttpSession(this.#settings, modes, handlers)
  }
}
