/**
 * A position in a stream. `offset` counts messages: a position `{epoch, offset: n}` means "every
 * message up to and including n has been seen". Offset 0 is the position before the first message.
 * An offset from another epoch means nothing.
 */
export interface Position {
  readonly epoch: string
  readonly offset: number
}

/** Where a subscription starts. */
export type StartFrom = 'latest' | 'earliest' | Position

/** A committed message, as delivered to subscribers (DESIGN §2). */
export interface Message<T = unknown> {
  readonly stream: string
  readonly offset: number
  readonly epoch: string
  /** Producer id of the publish that wrote this message (for SDK clients: the client id). */
  readonly producer: string | null
  /** Producer sequence number of that publish. */
  readonly seq: number | null
  /** User id of the publisher (`null` for server-side publishes). */
  readonly from: string | null
  /** Server commit time, ms since the Unix epoch. */
  readonly ts: number
  readonly data: T
}

/** Why a position cannot be resumed. */
export const ResetReason = {
  /** The position is below the retained tail: retention trimmed the history. */
  truncated: 'truncated',
  /** The position belongs to another history of the stream. */
  epoch: 'epoch',
  /** The position is beyond the stream's head (it never existed in this history). */
  ahead: 'ahead',
} as const

export type ResetReason = (typeof ResetReason)[keyof typeof ResetReason]

/** Presence entry: one user and how many of their clients are connected to the stream. */
export interface PresenceEntry {
  readonly user: string
  readonly clients: number
}

/** How many users and clients are connected to a stream. */
export interface PresenceCount {
  readonly users: number
  readonly clients: number
}
