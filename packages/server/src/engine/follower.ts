import type { ErrorCode, PresenceCount, PresenceEntry, ResetReason } from '@seqline/protocol'
import type { CommittedMessage } from './committed-message.js'

// The delivery seam (DESIGN §3): the engine tells a follower what happened on the streams it
// follows, as typed events, and knows no wire format. Each transport implements `Follower` and
// encodes its own bytes — the WebSocket connection, the HTTP session and the Durable Streams live
// reads alike — and every one of them is fed by the same cursor pumps, with the same high-water
// mark (G6).

/** Everything a follower is told besides messages. */
export type DeliveryEvent =
  /** Every message up to `head` has been delivered; what follows is live. Once per subscription. */
  | {
      readonly kind: 'caughtUp'
      readonly stream: string
      readonly epoch: string
      readonly head: number
      /** The requested position was resumed (true) or the subscription started fresh. */
      readonly recovered: boolean
    }
  /** The position cannot be resumed (G3); delivery goes on from `head`. */
  | {
      readonly kind: 'reset'
      readonly stream: string
      readonly reason: ResetReason
      readonly epoch: string
      readonly head: number
      readonly tail: number
    }
  /** Who is connected to the stream: a snapshot (capped at the first users). */
  | {
      readonly kind: 'presence'
      readonly stream: string
      readonly users: readonly PresenceEntry[]
      readonly count: PresenceCount
      readonly complete: boolean
    }
  /** Presence changes since the previous presence event, coalesced over one interval. */
  | {
      readonly kind: 'presenceDiff'
      readonly stream: string
      readonly changes: readonly PresenceEntry[]
      readonly count: PresenceCount
    }
  /** An ephemeral signal of another connection. */
  | {
      readonly kind: 'signal'
      readonly stream: string
      readonly from: string
      readonly data: unknown
    }
  /** The subscription ended on the server's side (stream deleted, right revoked, read failed). */
  | {
      readonly kind: 'error'
      readonly stream: string
      readonly code: ErrorCode
      readonly message: string
    }

/**
 * Where the engine delivers: one per connection (WebSocket, HTTP session) or per live HTTP read.
 * Writes never block; backpressure is `bufferedAmount` against the high-water mark, which the
 * engine's pumps respect for messages (a slow follower costs a position, not a buffer).
 */
export interface Follower {
  /** Connection id: logs, and excluding the sender of a signal. */
  readonly id: string
  /** Nothing more can be written (the connection is gone). */
  readonly closed: boolean
  /** Bytes written but not yet taken by the peer. */
  readonly bufferedAmount: number
  /** Resolves once `bufferedAmount` fell below the high-water mark again, or the follower closed. */
  whenDrained(): Promise<void>
  /** Runs `write` as one burst (one system call where the transport allows). */
  batch(write: () => void): void
  /** One committed message; the object is shared by every follower and must not be mutated. */
  message(message: CommittedMessage): void
  event(event: DeliveryEvent): void
}
