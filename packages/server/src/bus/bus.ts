import type { PresenceEntry } from '@seqline/protocol'

// The cross-node seam (DESIGN §3): after a commit a node tells the others "stream S is at head N",
// and the others' cursor pumps read the store. A bus is best-effort pub/sub — it may drop, delay
// or duplicate a message, and a node may miss everything while disconnected — so nothing on it is
// the source of truth: the log is in the Store, and every node also compares the store's heads
// with its own periodically (the engine's heal job). A lost announcement costs latency, never a
// message. Every implementation passes test/support/bus-conformance.ts.

/** What nodes tell each other. Every message names the node that sent it. */
export type BusMessage =
  /** A commit advanced `stream` to `head` (in `epoch`). */
  | {
      readonly kind: 'head'
      readonly node: string
      readonly stream: string
      readonly epoch: string
      readonly head: number
      readonly closed: boolean
    }
  /** The stream was deleted: subscribers everywhere are told. */
  | { readonly kind: 'deleted'; readonly node: string; readonly stream: string }
  /** An ephemeral signal for every node's subscribers of `stream` (never stored). */
  | {
      readonly kind: 'signal'
      readonly node: string
      readonly stream: string
      readonly from: string
      readonly data: unknown
    }
  /**
   * The sender's presence: its whole local presence (`full`, a heartbeat, so that a lost change
   * is repaired by the next heartbeat) or the users whose local client count changed during one
   * presence interval (`clients: 0`: gone from that node). A node's entries expire when its
   * heartbeats stop (it died).
   */
  | {
      readonly kind: 'presence'
      readonly node: string
      readonly streams: Readonly<Record<string, readonly PresenceEntry[]>>
      /** True for a heartbeat (the full state of the node), false for changes of some users. */
      readonly full: boolean
      /** How long receivers keep these entries without a newer heartbeat, ms. */
      readonly ttlMs: number
    }
  /** A node started (or reconnected): the others send their presence heartbeat now. */
  | { readonly kind: 'hello'; readonly node: string }
  /**
   * Rights of `user` changed (on `stream`, or anywhere): every node asks `authorize` again for
   * the user's live subscriptions and ends those no longer allowed.
   */
  | {
      readonly kind: 'revoke'
      readonly node: string
      readonly user: string
      readonly stream?: string
    }
  /**
   * End the connections of a client (its secret was rotated, it was deleted) or of a user (the
   * backend disconnected them) on every node. `final`: reconnecting is pointless (revoked).
   */
  | {
      readonly kind: 'disconnect'
      readonly node: string
      readonly client?: string
      readonly user?: string
      readonly final: boolean
    }

/** The cross-node notification bus. */
export interface Bus {
  /** Connects. Messages published before `init()` resolves may be lost (as any). */
  init(): Promise<void>
  /**
   * Sends a message to every node, this one included (receivers ignore their own). Never throws
   * and never waits: a message that cannot be sent is dropped (the heal job repairs).
   */
  publish(message: BusMessage): void
  /** Calls `listener` for every message received. Returns the disposer. */
  subscribe(listener: (message: BusMessage) => void): () => void
  /**
   * Calls `listener` whenever the bus (re)connects: messages may have been lost meanwhile, so the
   * engine heals at once instead of waiting for its next round. Returns the disposer.
   */
  onReconnect(listener: () => void): () => void
  /** Disconnects. */
  close(): Promise<void>
}

/** Encodes a bus message for a text channel (Redis, NOTIFY). */
export function encodeBusMessage(message: BusMessage): string {
  return JSON.stringify(message)
}

/** Decodes a bus message; `undefined` for anything malformed (another version, noise). */
export function decodeBusMessage(text: string): BusMessage | undefined {
  try {
    const value = JSON.parse(text) as { kind?: unknown; node?: unknown }
    if (typeof value !== 'object' || value === null || typeof value.node !== 'string')
      return undefined
    switch (value.kind) {
      case 'head':
      case 'deleted':
      case 'signal':
      case 'presence':
      case 'hello':
      case 'revoke':
      case 'disconnect':
        return value as BusMessage
      default:
        return undefined
    }
  } catch {
    return undefined
  }
}
