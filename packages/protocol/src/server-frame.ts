import type { ErrorCode } from './error-code.js'
import type { PresenceCount, PresenceEntry, ResetReason } from './message.js'

// Every server → client frame of wire protocol v1 (DESIGN §5). The server builds them; the client
// checks them with `parseServerFrame`.

/** The hello was accepted. */
export interface WelcomeFrame {
  readonly t: 'welcome'
  readonly clientId: string
  /** Present only when the server registered a new client: store it, it is never sent again. */
  readonly secret?: string
  readonly connectionId: string
  readonly userId: string
  /** The client should ping at this interval; the server drops silent connections after ~2×. */
  readonly heartbeatMs: number
  /**
   * Why a new client was registered although the hello named one: the id was unknown (garbage
   * collected) or is in use by another live connection (a duplicated tab).
   */
  readonly replaced?: 'unknown' | 'in-use'
  /**
   * When the user token expires, ms since the Unix epoch; absent when it does not. Send `auth` with
   * a fresh token before then: at expiry the server sends `error` TOKEN_EXPIRED and closes the
   * connection with {@link CloseCode.TOKEN_EXPIRED} unless a valid `auth` arrives within its grace
   * period.
   */
  readonly expiresAt?: number
}

/** The token of an `auth` frame was accepted; the connection and its subscriptions go on. */
export interface AuthOkFrame {
  readonly t: 'authOk'
  /** When the new token expires, ms since the Unix epoch; absent when it does not. */
  readonly expiresAt?: number
}

/** A committed message (the envelope of DESIGN §2). */
export interface MsgFrame {
  readonly t: 'msg'
  readonly stream: string
  readonly offset: number
  readonly epoch: string
  readonly producer: string | null
  readonly seq: number | null
  readonly from: string | null
  readonly ts: number
  /**
   * The message: a JSON value on JSON streams. On streams of other content types it is a string —
   * the UTF-8 text for `text/*`, otherwise base64 with `enc: 'base64'`.
   */
  readonly data: unknown
  readonly enc?: 'base64'
}

/** Replay finished: every message up to `head` has been sent; what follows is live. */
export interface CaughtUpFrame {
  readonly t: 'caughtUp'
  readonly stream: string
  readonly epoch: string
  readonly head: number
  /** Whether the requested position was resumed (true) or the subscription started fresh. */
  readonly recovered: boolean
}

/** The requested position cannot be resumed: resync from a snapshot, then follow from `head`. */
export interface ResetFrame {
  readonly t: 'reset'
  readonly stream: string
  readonly reason: ResetReason
  readonly epoch: string
  readonly head: number
  readonly tail: number
}

/** A publish was committed (or was a retry of one already committed). */
export interface PubackFrame {
  readonly t: 'puback'
  readonly stream: string
  readonly seq: number
  readonly offset: number
  readonly epoch: string
  readonly duplicate?: true
}

/** A publish was refused. Nothing was written. */
export interface NackFrame {
  readonly t: 'nack'
  readonly stream: string
  readonly seq: number
  readonly code: ErrorCode
  readonly message: string
  readonly expectedSeq?: number
  /** With PRODUCER_FENCED: the producer epoch the server holds. */
  readonly producerEpoch?: number
}

/** An ephemeral signal from another connection. Never stored. */
export interface ServerSignalFrame {
  readonly t: 'signal'
  readonly stream: string
  readonly from: string
  readonly data: unknown
}

/**
 * Presence snapshot: sent on every (re)subscribe, and again instead of the diffs a member missed
 * while it read too slowly. `users` lists at most the server's snapshot cap (the users who joined
 * first); `complete` is false when more are connected — page through all of them with
 * `GET /v1/presence/<stream>` — or when the stream's presence mode is `counts` (no users listed).
 */
export interface PresenceFrame {
  readonly t: 'presence'
  readonly stream: string
  readonly users: readonly PresenceEntry[]
  readonly count: PresenceCount
  readonly complete: boolean
}

/**
 * Presence changes since the previous presence frame of the stream, coalesced: at most one per
 * stream per presence interval, carrying every change. Each entry is a user's new number of
 * connected clients (`0`: the user left). In `counts` mode `changes` is empty.
 */
export interface PresenceDiffFrame {
  readonly t: 'presenceDiff'
  readonly stream: string
  readonly changes: readonly PresenceEntry[]
  readonly count: PresenceCount
}

/** A request failed. `stream` is set when the error concerns one stream only. */
export interface ErrorFrame {
  readonly t: 'error'
  readonly code: ErrorCode
  readonly message: string
  readonly stream?: string
}

export interface PongFrame {
  readonly t: 'pong'
}

/** The server is going away (shutdown, rolling deploy): reconnect after `retryAfterMs`. */
export interface GoawayFrame {
  readonly t: 'goaway'
  readonly retryAfterMs: number
}

/** Every frame a server may send. */
export type ServerFrame =
  | WelcomeFrame
  | MsgFrame
  | CaughtUpFrame
  | ResetFrame
  | PubackFrame
  | NackFrame
  | ServerSignalFrame
  | PresenceFrame
  | PresenceDiffFrame
  | AuthOkFrame
  | ErrorFrame
  | PongFrame
  | GoawayFrame

export type ServerFrameType = ServerFrame['t']

/**
 * WebSocket close codes (RFC 6455 §7.4; 4000–4999 are Seqline's own). The server closes with the
 * `SERVER` ones; a client closes its own link with `RECONNECT` or `STALLED` (never sent by a server).
 * A policy close carries the error code as its reason.
 */
export const CloseCode = {
  /** A normal close (the client called `close()`). */
  NORMAL: 1000,
  /** The server is going away (shutdown, deploy); the reason carries `retry=<ms>` after `goaway`. */
  GOING_AWAY: 1001,
  /** The hello was refused (UNAUTHENTICATED, FORBIDDEN, TOO_MANY_…); the reason is the error code. */
  POLICY: 1008,
  /** A frame above the hard size cap. */
  TOO_BIG: 1009,
  /** A newer connection of the same client took this one over (`takeover`). */
  REPLACED: 4000,
  /** Client side: the client dropped the link to dial again. */
  RECONNECT: 4001,
  /** The peer left more unread data queued than the server's bound (SLOW_CONSUMER). */
  SLOW_CONSUMER: 4008,
  /** No `hello` arrived in time (HELLO_TIMEOUT). */
  HELLO_TIMEOUT: 4009,
  /** The user token expired and no valid `auth` arrived within the grace period (TOKEN_EXPIRED). */
  TOKEN_EXPIRED: 4401,
  /** The credentials were revoked: client secret rotated, client deleted, user disconnected. */
  REVOKED: 4403,
  /** Client side: the link went silent (heartbeat or live read timeout). */
  STALLED: 4408,
} as const

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]
