import type { PresenceEntry } from '@seqline/protocol'

/** A change of one user's presence on one stream; `clients: 0` means the user left. */
export interface PresenceChange {
  readonly stream: string
  readonly user: string
  readonly clients: number
}

/** Who is present on one stream. */
interface StreamPresence {
  /** Per user, how many of their clients follow the stream; insertion order = first join. */
  readonly users: Map<string, number>
  /** Per user and client (`user NUL client`), how many of its connections do. */
  readonly refs: Map<string, number>
}

/**
 * Who is connected to each stream now: per stream, per user, their clients (one client may follow
 * a stream over several connections, so each client is reference-counted). Reports a change only
 * when a user's number of clients changes. Presence is never stored.
 *
 * Two flat maps per stream, not a map per user: a room of ten thousand costs two entries per
 * member.
 */
export class PresenceTracker {
  readonly #streams = new Map<string, StreamPresence>()

  join(stream: string, user: string, client: string): PresenceChange | undefined {
    let present = this.#streams.get(stream)
    if (present === undefined) {
      this.#streams.set(stream, (present = { users: new Map(), refs: new Map() }))
    }
    const key = refKey(user, client)
    const refs = present.refs.get(key) ?? 0
    present.refs.set(key, refs + 1)
    if (refs > 0) return undefined
    const clients = (present.users.get(user) ?? 0) + 1
    present.users.set(user, clients)
    return { stream, user, clients }
  }

  leave(stream: string, user: string, client: string): PresenceChange | undefined {
    const present = this.#streams.get(stream)
    const key = refKey(user, client)
    const refs = present?.refs.get(key)
    if (present === undefined || refs === undefined) return undefined
    if (refs > 1) {
      present.refs.set(key, refs - 1)
      return undefined
    }
    present.refs.delete(key)
    const clients = (present.users.get(user) ?? 1) - 1
    if (clients > 0) present.users.set(user, clients)
    else present.users.delete(user)
    if (present.users.size === 0) this.#streams.delete(stream)
    return { stream, user, clients }
  }

  /** How many clients of `user` follow `stream` here. */
  count(stream: string, user: string): number {
    return this.#streams.get(stream)?.users.get(user) ?? 0
  }

  /** Whether anyone follows `stream` here. */
  has(stream: string): boolean {
    return this.#streams.has(stream)
  }

  /** Every stream with anyone present, with its snapshot (a node's presence heartbeat). */
  all(): Map<string, PresenceEntry[]> {
    return new Map([...this.#streams.keys()].map((stream) => [stream, this.snapshot(stream)]))
  }

  snapshot(stream: string): PresenceEntry[] {
    const users = this.#streams.get(stream)?.users
    if (users === undefined) return []
    return [...users].map(([user, clients]) => ({ user, clients }))
  }
}

/** User ids and client ids never contain NUL (user-id.ts, client-secret.ts). */
function refKey(user: string, client: string): string {
  return `${user}\u0000${client}`
}
