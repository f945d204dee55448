import type { PresenceEntry } from '@seqline/protocol'

/** A change of one user's presence on one stream; `clients: 0` means the user left. */
export interface PresenceChange {
  readonly stream: string
  readonly user: string
  readonly clients: number
}

/**
 * Who is connected to each stream now: per stream, per user, the set of their clients (one client
 * may follow a stream over several connections, so each client is reference-counted). Reports a
 * change only when a user's number of clients changes. Presence is never stored.
 */
export class PresenceTracker {
  readonly #streams = new Map<string, Map<string, Map<string, number>>>()

  join(stream: string, user: string, client: string): PresenceChange | undefined {
    let users = this.#streams.get(stream)
    if (users === undefined) this.#streams.set(stream, (users = new Map()))
    let clients = users.get(user)
    if (clients === undefined) users.set(user, (clients = new Map()))
    const refs = clients.get(client) ?? 0
    clients.set(client, refs + 1)
    return refs === 0 ? { stream, user, clients: clients.size } : undefined
  }

  leave(stream: string, user: string, client: string): PresenceChange | undefined {
    const users = this.#streams.get(stream)
    const clients = users?.get(user)
    const refs = clients?.get(client)
    if (users === undefined || clients === undefined || refs === undefined) return undefined
    if (refs > 1) {
      clients.set(client, refs - 1)
      return undefined
    }
    clients.delete(client)
    if (clients.size === 0) users.delete(user)
    if (users.size === 0) this.#streams.delete(stream)
    return { stream, user, clients: clients.size }
  }

  /** How many clients of `user` follow `stream` here. */
  count(stream: string, user: string): number {
    return this.#streams.get(stream)?.get(user)?.size ?? 0
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
    const users = this.#streams.get(stream)
    if (users === undefined) return []
    return [...users].map(([user, clients]) => ({ user, clients: clients.size }))
  }
}
