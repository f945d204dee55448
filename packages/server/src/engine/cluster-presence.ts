import type { PresenceEntry } from '@seqline/protocol'

/** A change of one user's cluster-wide client count on one stream. */
export interface ClusterPresenceChange {
  readonly stream: string
  readonly user: string
  readonly clients: number
}

interface NodeView {
  expiresAt: number
  readonly streams: Map<string, Map<string, number>>
}

/**
 * The presence other nodes report (DESIGN §2 presence, across nodes). Each node sends its own
 * local presence as full states (per stream on a change, all of it as a heartbeat); this view
 * keeps the latest state per node and drops a node whose heartbeats stopped, so a node that died
 * (kill -9, partition) stops counting after its TTL. Counts add up over nodes: a user with one
 * client on node A and one on node B has 2 clients.
 */
export class ClusterPresence {
  readonly #nodes = new Map<string, NodeView>()

  /** Clients of `user` on `stream` on other nodes. */
  remoteCount(stream: string, user: string): number {
    let count = 0
    for (const view of this.#nodes.values()) count += view.streams.get(stream)?.get(user) ?? 0
    return count
  }

  /** `local` plus every other node's entries for `stream`. */
  merge(stream: string, local: readonly PresenceEntry[]): PresenceEntry[] {
    const users = new Map<string, number>()
    for (const entry of local) users.set(entry.user, entry.clients)
    for (const view of this.#nodes.values()) {
      for (const [user, clients] of view.streams.get(stream) ?? []) {
        users.set(user, (users.get(user) ?? 0) + clients)
      }
    }
    return [...users].map(([user, clients]) => ({ user, clients }))
  }

  /**
   * Applies a node's report. `full`: it replaces everything known of that node (a heartbeat);
   * otherwise only the streams it lists. Returns the remote-count changes, per (stream, user).
   */
  apply(
    node: string,
    streams: Readonly<Record<string, readonly PresenceEntry[]>>,
    full: boolean,
    expiresAt: number,
  ): ClusterPresenceChange[] {
    let view = this.#nodes.get(node)
    if (view === undefined) this.#nodes.set(node, (view = { expiresAt, streams: new Map() }))
    const touched = new Set<string>(full ? [...view.streams.keys()] : [])
    for (const stream of Object.keys(streams)) touched.add(stream)
    const before = this.#counts(touched)
    if (full) view.streams.clear()
    for (const [stream, entries] of Object.entries(streams)) {
      if (entries.length === 0) view.streams.delete(stream)
      else view.streams.set(stream, new Map(entries.map((e) => [e.user, e.clients])))
    }
    view.expiresAt = Math.max(view.expiresAt, expiresAt)
    return this.#diff(before, touched)
  }

  /** Forgets nodes whose heartbeat expired; returns the resulting changes. */
  expire(now: number): ClusterPresenceChange[] {
    const changes: ClusterPresenceChange[] = []
    for (const [node, view] of [...this.#nodes]) {
      if (view.expiresAt > now) continue
      const touched = new Set(view.streams.keys())
      const before = this.#counts(touched)
      this.#nodes.delete(node)
      changes.push(...this.#diff(before, touched))
    }
    return changes
  }

  #counts(streams: ReadonlySet<string>): Map<string, number> {
    const counts = new Map<string, number>()
    for (const stream of streams) {
      for (const entry of this.merge(stream, [])) {
        counts.set(`${stream}\u0000${entry.user}`, entry.clients)
      }
    }
    return counts
  }

  #diff(before: Map<string, number>, streams: ReadonlySet<string>): ClusterPresenceChange[] {
    const after = this.#counts(streams)
    const changes: ClusterPresenceChange[] = []
    for (const key of new Set([...before.keys(), ...after.keys()])) {
      const was = before.get(key) ?? 0
      const now = after.get(key) ?? 0
      if (was === now) continue
      const [stream = '', user = ''] = key.split('\u0000')
      changes.push({ stream, user, clients: now })
    }
    return changes
  }
}
