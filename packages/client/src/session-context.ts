import type { ServerFrame } from '@seqline/protocol'
import type { BackoffOptions } from './backoff.js'
import type { Clock } from './clock.js'

/** Settings of one HTTP session, fixed by its transport. */
export interface SessionSettings {
  /** The server's base URL, without a trailing slash. */
  readonly base: string
  readonly fetch: typeof fetch
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  /** An SSE read with no byte within this time means a buffering proxy: switch to long-poll. */
  readonly sseProbeMs: number
  /** While frames flow over SSE, `received` goes out at least this often… */
  readonly ackIntervalMs: number
  /** …and at once after this many bytes. */
  readonly ackBytes: number
  /** Upper bound of the frames of one POST (a larger single frame goes alone). */
  readonly maxBatchBytes: number
}

/** How a failed request of the session ended, once its answer was read. */
export type Refusal =
  /** Transient (network, 5xx, 429): try again after the backoff, or after `delayMs`. */
  | { readonly kind: 'retry'; readonly delayMs?: number }
  /** 401 TOKEN_EXPIRED: try again once a fresh token is there (or after the backoff). */
  | { readonly kind: 'token' }
  /** The session is gone or refused for good: the link has ended. */
  | { readonly kind: 'ended' }

/** How the read modes of a transport are shared by its sessions: SSE until it fails once. */
export interface ReadModes {
  mode(): 'sse' | 'poll'
  /** An SSE read stayed silent (a buffering proxy): long-poll from now on, for every session. */
  switchToPoll(): void
}

/** What the reader and the sender of a session share with it. */
export interface SessionContext {
  readonly settings: SessionSettings
  /** `/v1/sessions/<id>` */
  readonly path: string
  /** Highest event sequence number handled (`after` of the next read). */
  lastSeq: number
  /** Highest sequence number the server was told about (`after`, `received`). */
  acked: number
  /** `fetch` of a session path with the current token. */
  request(path: string, init?: RequestInit): Promise<Response>
  /** Hands a server frame to the connection. */
  emit(frame: ServerFrame): void
  /** Reads a failed answer: reports it as the matching frame and says what to do next. */
  refused(res: Response): Promise<Refusal>
  /** Ends the link; the connection reconnects with a new session. */
  finish(code: number, reason: string, error?: unknown): void
  /** Frames arrived over SSE: acknowledge them soon (`bytes` of them). */
  received(bytes: number): void
}
