import type { PresenceCount, PresenceEntry } from '@seqline/protocol'
import type { DeliveryEvent, Follower } from '../follower.js'
import { ClusterPresence } from './cluster-presence.js'
import type { PresenceMode } from './presence-rules.js'
import { PresenceTracker } from './presence-tracker.js'

/**
 * The share of the event loop one stream's presence may take: after a flush that took `t`, the
 * stream's next one waits at least `t / PRESENCE_SHARE`. A room small enough to be told in well
 * under a millisecond keeps `intervalMs`; one of 10,000, whose flush is 10,000 socket writes
 * (~0.4 s), is told every ~4 s, and never takes the loop away from its messages.
 */
const PRESENCE_SHARE = 0.1

/** A subscription as presence sees it. */
export interface PresenceMember {
  readonly stream: string
  readonly subscriber: { readonly userId: string; readonly clientId: string }
  readonly follower: Follower
  /** May see presence (the `presence` right); members without it are counted, not told. */
  presence: boolean
  /** Presence frames were skipped while the follower read too slowly: it gets a snapshot next. */
  presenceStale: boolean
  /**
   * The listing (users and their clients) of the last snapshot this member was sent, while what
   * it knows is still exactly that listing; `undefined` once a diff told it more.
   */
  presenceView: Listing | undefined
}

/** The users a snapshot lists, with their clients, in the snapshot's order. */
export type Listing = ReadonlyMap<string, number>

/** Options of {@link Presence}. */
export interface PresenceOptions {
  /**
   * Changes are coalesced over this interval: at most one presence frame per member per interval
   * (a longer one for a room whose frames take long to write, see PRESENCE_SHARE).
   */
  readonly intervalMs: number
  /** Users listed in a snapshot (the first to join); the count covers everyone. */
  readonly snapshotUsers: number
  /** A member buffering more than this gets no presence frame until it drained. */
  readonly highWaterMark: number
  readonly modeOf: (stream: string) => PresenceMode
}

/** One page of a stream's presence, users sorted by id. */
export interface PresencePage {
  readonly mode: PresenceMode
  readonly users: readonly PresenceEntry[]
  readonly count: PresenceCount
  /** Pass as `after` for the next page; absent on the last. */
  readonly next?: string
}

interface StreamState {
  readonly stream: string
  readonly mode: PresenceMode
  /** Members on this node that may see presence. */
  readonly members: Set<PresenceMember>
  /** Per user, clients on every node; insertion order = join order (the snapshot's first users). */
  readonly totals: Map<string, number>
  clients: number
  /** Users whose total changed since the last flush, with their new total. */
  readonly pending: Map<string, number>
  /** Members that skipped presence frames. */
  readonly stale: Set<PresenceMember>
  /**
   * The snapshot new members get, built when first needed and shared (its frame is encoded once).
   * Once the room has more users than a snapshot lists, a join or leave of a user it does not list
   * changes only its count: it is kept until the next flush instead of being rebuilt, so a large
   * room filling up costs one snapshot per interval, not one per join. The count it shows may then
   * lag by the changes of one interval, which the next flush sends to every member (presence
   * changes carry absolute totals, so a change seen twice is harmless).
   */
  snapshot: DeliveryEvent | undefined
  /** The users `snapshot` lists, with their clients. */
  listing: Listing
  sorted: PresenceEntry[] | undefined
  /** Its next flush not before this (`performance.now()`): see PRESENCE_SHARE. */
  notBefore: number
}

/**
 * Presence (DESIGN §2) that costs O(1) per join and leave, whatever the room size: a join updates
 * counters and marks the user changed; once per interval each changed stream sends ONE frame to
 * each of its members carrying every change (or, past `snapshotUsers` changes, the changes of the
 * users a snapshot lists — see `#relist` — or a fresh capped snapshot), encoded once and shared,
 * and no stream's presence takes more than PRESENCE_SHARE of the event loop. A subscriber gets a
 * snapshot capped at the first `snapshotUsers` users plus the count; the full list is paged over
 * HTTP. A member above its high-water mark is skipped (presence is state, not history: it gets a
 * snapshot once it drained), so no one makes the server queue presence for them. Other nodes'
 * presence (`applyRemote`) feeds the same totals; this node's changes leave through
 * `onLocalChanges`, coalesced the same way.
 */
export class Presence {
  readonly #tracker = new PresenceTracker()
  readonly #remote = new ClusterPresence()
  readonly #streams = new Map<string, StreamState>()
  readonly #dirty = new Set<StreamState>()
  /** Streams with members that skipped presence frames. */
  readonly #stale = new Set<StreamState>()
  /** Per stream, users whose local client count changed since the last flush (for the bus). */
  readonly #localChanges = new Map<string, Set<string>>()
  #timer: NodeJS.Timeout | undefined
  #closed = false
  /** Set by the cluster link: this node's changes, once per interval. */
  onLocalChanges: ((streams: Record<string, PresenceEntry[]>) => void) | undefined

  constructor(private readonly options: PresenceOptions) {}

  /** A subscription started: count it, and send it the snapshot if it may see presence. */
  join(member: PresenceMember): void {
    const mode = this.options.modeOf(member.stream)
    if (mode === 'off') return
    const state = this.#state(member.stream, mode)
    const { userId, clientId } = member.subscriber
    const change = this.#tracker.join(member.stream, userId, clientId)
    if (change !== undefined) this.#localChanged(state, userId, change.clients)
    if (member.presence) {
      state.members.add(member)
      this.#sendSnapshot(state, member)
    }
  }

  /** A subscription ended. */
  leave(member: PresenceMember): void {
    const state = this.#streams.get(member.stream)
    if (state === undefined) return
    state.members.delete(member)
    state.stale.delete(member)
    if (state.stale.size === 0) this.#stale.delete(state)
    const { userId, clientId } = member.subscriber
    const change = this.#tracker.leave(member.stream, userId, clientId)
    if (change !== undefined) this.#localChanged(state, userId, change.clients)
    this.#dropIfIdle(state)
  }

  /** Grants or withdraws a member's right to see presence (after a revocation re-check). */
  setVisible(member: PresenceMember, visible: boolean): void {
    member.presence = visible
    const state = this.#streams.get(member.stream)
    if (state === undefined) return
    if (visible && !state.members.has(member)) {
      state.members.add(member)
      this.#sendSnapshot(state, member)
    } else if (!visible) {
      member.presenceView = undefined
      state.members.delete(member)
      state.stale.delete(member)
      if (state.stale.size === 0) this.#stale.delete(state)
    }
  }

  /** Users of `stream` on every node, sorted by id, `limit` after `after`. */
  page(stream: string, after: string | undefined, limit: number): PresencePage {
    const mode = this.options.modeOf(stream)
    if (mode === 'off') return { mode, users: [], count: { users: 0, clients: 0 } }
    const sorted = this.#sorted(stream)
    const count = {
      users: sorted.length,
      clients: sorted.reduce((sum, entry) => sum + entry.clients, 0),
    }
    if (mode === 'counts') return { mode, users: [], count }
    let start = 0
    if (after !== undefined) {
      // Binary search: the first user id above `after`.
      let hi = sorted.length
      while (start < hi) {
        const mid = (start + hi) >>> 1
        if ((sorted[mid] as PresenceEntry).user <= after) start = mid + 1
        else hi = mid
      }
    }
    const users = sorted.slice(start, start + limit)
    const last = users.at(-1)
    return start + limit < sorted.length && last !== undefined
      ? { mode, users, count, next: last.user }
      : { mode, users, count }
  }

  /** This node's whole local presence (the cluster heartbeat). */
  localState(): Record<string, PresenceEntry[]> {
    const streams: Record<string, PresenceEntry[]> = {}
    for (const [stream, entries] of this.#tracker.all()) streams[stream] = entries
    return streams
  }

  /** A report of another node (see ClusterPresence.apply). */
  applyRemote(
    node: string,
    streams: Readonly<Record<string, readonly PresenceEntry[]>>,
    full: boolean,
    expiresAt: number,
  ): void {
    this.#remoteChanged(this.#remote.apply(node, streams, full, expiresAt))
  }

  /** Forgets nodes whose heartbeats stopped. */
  expireRemote(now: number): void {
    this.#remoteChanged(this.#remote.expire(now))
  }

  /** Sends what is pending now, in every stream (shutdown, tests). */
  flush(): void {
    this.#flush(true)
  }

  #flush(all: boolean): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    // Changed streams, and those with members that skipped frames (they may have drained now).
    const due = new Set(this.#dirty)
    for (const state of this.#stale) due.add(state)
    this.#dirty.clear()
    for (const state of due) {
      const started = performance.now()
      if (!all && state.notBefore > started) {
        this.#dirty.add(state)
        continue
      }
      this.#flushStream(state)
      const spent = performance.now() - started
      state.notBefore = started + spent / PRESENCE_SHARE
    }
    const changes = this.#takeLocalChanges()
    if (changes !== undefined) this.onLocalChanges?.(changes)
    if (this.#stale.size > 0 || this.#dirty.size > 0) this.#schedule()
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #flushStream(state: StreamState): void {
    const { snapshotUsers, highWaterMark } = this.options
    let event: DeliveryEvent | undefined
    /** More changes than a snapshot lists: each member gets its listing brought up to date. */
    let relist = false
    if (state.pending.size > 0) {
      state.snapshot = undefined
      relist = state.mode === 'on' && state.pending.size > snapshotUsers
      event = relist
        ? this.#snapshotOf(state)
        : {
            kind: 'presenceDiff',
            stream: state.stream,
            changes:
              state.mode === 'on'
                ? [...state.pending].map(([user, clients]) => ({ user, clients }))
                : [],
            count: { users: state.totals.size, clients: state.clients },
          }
      state.pending.clear()
    }
    // One frame per listing the members hold, built once: after a join, most hold the same.
    const relisted = new Map<Listing, DeliveryEvent>()
    const members = event === undefined ? state.stale : state.members
    for (const member of [...members]) {
      if (member.follower.bufferedAmount > highWaterMark) {
        if (!member.presenceStale) {
          member.presenceStale = true
          state.stale.add(member)
          this.#stale.add(state)
        }
        continue
      }
      if (member.presenceStale) {
        member.presenceStale = false
        state.stale.delete(member)
        this.#sendSnapshot(state, member)
      } else if (event === undefined) continue
      else if (relist && member.presenceView !== undefined) {
        const view = member.presenceView
        let frame = relisted.get(view)
        if (frame === undefined) relisted.set(view, (frame = this.#relist(state, view)))
        member.follower.event(frame)
        member.presenceView = state.listing
      } else if (relist) this.#sendSnapshot(state, member)
      else {
        member.follower.event(event)
        member.presenceView = undefined
      }
    }
    if (state.stale.size === 0) this.#stale.delete(state)
    this.#dropIfIdle(state)
  }

  /**
   * What takes a member that knows `view` (an earlier listing) to the current one: the users it
   * lists that left it (0) and those that joined it or changed, with the absolute count — the same
   * view a new snapshot gives, in a frame the size of the difference. A room filling up or
   * reconnecting changes its count every interval but rarely the users a snapshot lists (the first
   * to have joined), so its members get a few bytes per interval rather than a snapshot each. More
   * differences than a snapshot lists: the snapshot.
   */
  #relist(state: StreamState, view: Listing): DeliveryEvent {
    const snapshot = this.#snapshotOf(state)
    const changes: PresenceEntry[] = []
    for (const user of view.keys()) {
      if (!state.listing.has(user)) changes.push({ user, clients: 0 })
    }
    for (const [user, clients] of state.listing) {
      if (view.get(user) !== clients) changes.push({ user, clients })
    }
    if (changes.length > this.options.snapshotUsers) return snapshot
    return {
      kind: 'presenceDiff',
      stream: state.stream,
      changes,
      count: { users: state.totals.size, clients: state.clients },
    }
  }

  #sendSnapshot(state: StreamState, member: PresenceMember): void {
    member.follower.event(this.#snapshotOf(state))
    member.presenceView = state.listing
  }

  #localChanged(state: StreamState, user: string, localClients: number): void {
    let users = this.#localChanges.get(state.stream)
    if (users === undefined) this.#localChanges.set(state.stream, (users = new Set()))
    users.add(user)
    this.#setTotal(state, user, localClients + this.#remote.remoteCount(state.stream, user))
  }

  #remoteChanged(changes: readonly { stream: string; user: string }[]): void {
    for (const { stream, user } of changes) {
      const state = this.#streams.get(stream)
      if (state === undefined) continue
      const local = this.#tracker.count(stream, user)
      this.#setTotal(state, user, local + this.#remote.remoteCount(stream, user))
    }
  }

  #setTotal(state: StreamState, user: string, total: number): void {
    const old = state.totals.get(user) ?? 0
    if (old === total) return
    const sizeBefore = state.totals.size
    state.clients += total - old
    if (total > 0) {
      // A user coming back counts as joining again: to the end of the join order.
      if (old === 0) state.totals.delete(user)
      state.totals.set(user, total)
    } else state.totals.delete(user)
    state.pending.set(user, total)
    const cap = this.options.snapshotUsers
    const listsAll = sizeBefore <= cap || state.totals.size <= cap
    if (state.mode !== 'on' || listsAll || state.listing.has(user)) state.snapshot = undefined
    state.sorted = undefined
    this.#dirty.add(state)
    this.#schedule()
  }

  #snapshotOf(state: StreamState): DeliveryEvent {
    if (state.snapshot !== undefined) return state.snapshot
    const cap = this.options.snapshotUsers
    const users: PresenceEntry[] = []
    if (state.mode === 'on') {
      for (const [user, clients] of state.totals) {
        if (users.length >= cap) break
        users.push({ user, clients })
      }
    }
    state.listing = new Map(users.map((entry) => [entry.user, entry.clients]))
    state.snapshot = {
      kind: 'presence',
      stream: state.stream,
      users,
      count: { users: state.totals.size, clients: state.clients },
      complete: state.mode === 'on' && state.totals.size <= cap,
    }
    return state.snapshot
  }

  #sorted(stream: string): PresenceEntry[] {
    const state = this.#streams.get(stream)
    if (state?.sorted !== undefined) return state.sorted
    let totals: ReadonlyMap<string, number> | undefined = state?.totals
    if (totals === undefined) {
      // Nobody here follows it: merge this node's view (none) with the other nodes'.
      const merged = new Map(this.#remote.remoteUsers(stream) ?? [])
      for (const entry of this.#tracker.snapshot(stream)) {
        merged.set(entry.user, (merged.get(entry.user) ?? 0) + entry.clients)
      }
      totals = merged
    }
    const sorted = [...totals]
      .map(([user, clients]) => ({ user, clients }))
      .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0))
    if (state !== undefined) state.sorted = sorted
    return sorted
  }

  #state(stream: string, mode: PresenceMode): StreamState {
    let state = this.#streams.get(stream)
    if (state === undefined) {
      const totals = new Map(this.#remote.remoteUsers(stream) ?? [])
      let clients = 0
      for (const n of totals.values()) clients += n
      state = {
        stream,
        mode,
        members: new Set(),
        totals,
        clients,
        pending: new Map(),
        stale: new Set(),
        snapshot: undefined,
        listing: new Map(),
        sorted: undefined,
        notBefore: 0,
      }
      this.#streams.set(stream, state)
    }
    return state
  }

  #dropIfIdle(state: StreamState): void {
    if (
      state.members.size === 0 &&
      !this.#tracker.has(state.stream) &&
      state.pending.size === 0 &&
      this.#streams.get(state.stream) === state
    ) {
      this.#streams.delete(state.stream)
      this.#dirty.delete(state)
      this.#stale.delete(state)
    }
  }

  #takeLocalChanges(): Record<string, PresenceEntry[]> | undefined {
    if (this.#localChanges.size === 0) return undefined
    const streams: Record<string, PresenceEntry[]> = {}
    for (const [stream, users] of this.#localChanges) {
      streams[stream] = [...users].map((user) => ({
        user,
        clients: this.#tracker.count(stream, user),
      }))
    }
    this.#localChanges.clear()
    return streams
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#flush(false)
    }, this.options.intervalMs)
    this.#timer.unref()
  }
}
