import type { PresenceEntry } from '@seqline/protocol'

/** A user's new cluster-wide client count on one stream (`clients: 0`: gone). */
export interface PresenceChange {
  readonly stream: string
  readonly user: string
  readonly clients: number
}

interface NodeView {
  expiresAt: number
  readonly streams: Map<string, Map<string, number>>
}

/**
 * The presence other nodes report (DESIGN §2 presence, across nodes). Each node sends the changes
 * of its local presence (coalesced, once per presence interval) and its whole local presence as a
 * heartbeat; this view keeps the latest state per node and drops a node whose heartbeats stopped,
 * so a node that died (kill -9, partition) stops counting after its TTL. Counts add up over nodes:
 * a user with one client on node A and one on node B has 2 clients. Totals per (stream, user) are
 * kept incrementally: applying a report costs the size of the report, not of the room.
 */
export class ClusterPresence {
  readonly #nodes = new Map<string, NodeView>()
  /** Per stream, per user: clients summed over the other nodes. */
  readonly #totals = new Map<string, Map<string, number>>()

  /** Clients of `user` on `stream` on other nodes. */
  remoteCount(stream: string, user: string): number {
    return this.#totals.get(stream)?.get(user) ?? 0
  }

  /** Users of `stream` on other nodes with their client counts. */
  remoteUsers(stream: string): ReadonlyMap<string, number> | undefined {
    return this.#totals.get(stream)
  }

  /**
   * Applies a node's report. `full`: its whole presence (a heartbeat), replacing everything known
   * of it; otherwise changes of single users (`clients: 0` removes one). Returns the resulting
   * changes of the remote totals.
   */
  apply(
    node: string,
    streams: Readonly<Record<string, readonly PresenceEntry[]>>,
    full: boolean,
    expiresAt: number,
  ): PresenceChange[] {
    let view = this.#nodes.get(node)
    if (view === undefined) this.#nodes.set(node, (view = { expiresAt, streams: new Map() }))
    view.expiresAt = Math.max(view.expiresAt, expiresAt)
    const changes = new Map<string, PresenceChange>()
    if (full) {
      for (const [stream, users] of view.streams) {
        const reported = new Set((streams[stream] ?? []).map((e) => e.user))
        for (const user of [...users.keys()]) {
          if (!reported.has(user)) this.#set(view, stream, user, 0, changes)
        }
      }
    }
    for (const [stream, entries] of Object.entries(streams)) {
      for (const entry of entries) this.#set(view, stream, entry.user, entry.clients, changes)
    }
    return [...changes.values()]
  }

  /** Forgets nodes whose heartbeat expired; returns the resulting changes. */
  expire(now: number): PresenceChange[] {
    const changes = new Map<string, PresenceChange>()
    for (const [node, view] of [...this.#nodes]) {
      if (view.expiresAt > now) continue
      for (const [stream, users] of view.streams) {
        for (const user of [...users.keys()]) this.#set(view, stream, user, 0, changes)
      }
      this.#nodes.delete(node)
    }
    return [...changes.values()]
  }

  #set(
    view: NodeView,
    stream: string,
    user: string,
    clients: number,
    changes: Map<string, PresenceChange>,
  ): void {
    let users = view.streams.get(stream)
    const old = users?.get(user) ?? 0
    if (old === clients) return
    if (clients > 0) {
      if (users === undefined) view.streams.set(stream, (users = new Map()))
      users.set(user, clients)
    } else if (users !== undefined) {
      users.delete(user)
      if (users.size === 0) view.streams.delete(stream)
    }
    let totals = this.#totals.get(stream)
    if (totals === undefined) this.#totals.set(stream, (totals = new Map()))
    const total = (totals.get(user) ?? 0) - old + clients
    if (total > 0) totals.set(user, total)
    else {
      totals.delete(user)
      if (totals.size === 0) this.#totals.delete(stream)
    }
    changes.set(`${stream}\u0000${user}`, { stream, user, clients: total })
  }
}
