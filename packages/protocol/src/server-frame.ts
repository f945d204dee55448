import type { ErrorCode } from './error-code.js'
import type { PresenceEntry, ResetReason } from './message.js'

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

/** Full presence snapshot, sent on every (re)subscribe. */
export interface PresenceFrame {
  readonly t: 'presence'
  readonly stream: string
  readonly users: readonly PresenceEntry[]
}

/** One user's presence changed; `clients: 0` means the user left. */
export interface PresenceDeltaFrame {
  readonly t: 'presenceDelta'
  readonly stream: string
  readonly user: string
  readonly clients: number
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
  | PresenceDeltaFrame
  | ErrorFrame
  | PongFrame
  | GoawayFrame

export type ServerFrameType = ServerFrame['t']

/** Close code the server uses when it goes away; the reason carries `retry=<ms>`. */
export const CLOSE_GOING_AWAY = 1001
/** Close code for a connection closed because of a policy (auth, limits). */
export const CLOSE_POLICY = 1008
/** Close code when a newer connection of the same client took over. */
export const CLOSE_REPLACED = 4000
