import { randomUUID } from 'node:crypto'
import type { PresenceEntry } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Bus, BusMessage } from '../bus/bus.js'
import type { Metrics } from '../observability/metrics.js'
import type { Store, StoredMessage } from '../store/store.js'
import { type ClusterPresenceChange, ClusterPresence } from './cluster-presence.js'
import { PeriodicJob } from './periodic-job.js'

/** What the link needs of its engine (implemented by `Engine`, kept narrow on purpose). */
export interface ClusterHost {
  /** Epoch and head of the stream's hub on this node, if anyone here follows it over WebSocket. */
  hubPosition(stream: string): { readonly epoch: string; readonly head: number } | undefined
  /** Streams followed on this node (hubs and HTTP live readers). */
  followedStreams(): Iterable<string>
  /** Whether anyone on this node follows `stream` (cheaper than `followedStreams`). */
  follows(stream: string): boolean
  /** Delivers a commit made elsewhere as if it were local (`messages` may be empty). */
  advance(event: {
    stream: string
    epoch: string
    head: number
    closed: boolean
    messages: readonly StoredMessage[]
  }): void
  /** The stream was deleted (or recreated) elsewhere: tell its followers here. */
  forget(stream: string): void
  /** Fans out a signal from another node to this node's subscribers. */
  deliverSignal(stream: string, from: string, data: unknown): void
  /** The cluster-wide client count of `user` on `stream` changed (presence delta). */
  presenceChanged(change: ClusterPresenceChange): void
  /** This node's own presence on every stream that has any. */
  localPresence(): Map<string, PresenceEntry[]>
}

/** Options of `ClusterLink`. */
export interface ClusterLinkOptions {
  /** This node's id on the bus. Default: a random UUID per process. */
  readonly nodeId?: string | undefined
  /** How often the store's heads of followed streams are compared with this node's. */
  readonly healIntervalMs?: number | undefined
  /** How often this node's presence is sent as a heartbeat. */
  readonly presenceHeartbeatMs?: number | undefined
  /** Messages fetched per announcement to fill the hub window (beyond, pumps read the store). */
  readonly fetchLimit?: number | undefined
  readonly now?: (() => number) | undefined
  /** Where the link counts bus messages and heals (set by the engine). */
  readonly metrics?: Pick<Metrics, 'busMessages' | 'clusterHeals'> | undefined
}

/** Defaults of `ClusterLinkOptions`. */
export const clusterLinkDefaults = {
  healIntervalMs: 1_000,
  presenceHeartbeatMs: 5_000,
  fetchLimit: 512,
} as const

/**
 * Joins an engine to the other nodes through a `Bus` (DESIGN §3, multi-node):
 *
 * - after each local commit it announces "stream S is at head N" (once per stream per batch);
 * - on an announcement from another node for a stream followed here, it reads the new messages
 *   from the store ONCE per node and hands them to the hub, so that the cursor pumps deliver them
 *   from the window instead of each querying the store;
 * - the bus may drop anything, so a heal job compares the store's heads of every followed stream
 *   with this node's every `healIntervalMs` (and at once after the bus reconnects) and repairs a
 *   miss: a lost announcement costs latency, never a message;
 * - signals and presence travel on the bus too; a node's presence expires when its heartbeats
 *   stop, so the entries of a node that died disappear.
 */
export class ClusterLink {
  readonly nodeId: string
  readonly #presence = new ClusterPresence()
  /** Last position seen of followed streams that have no hub (HTTP live readers only). */
  readonly #known = new Map<string, { epoch: string; head: number }>()
  /** Per stream, the refresh in progress and whether another one was asked for meanwhile. */
  readonly #refreshing = new Map<string, { again: boolean }>()
  readonly #jobs: PeriodicJob[]
  readonly #disposers: (() => void)[] = []
  readonly #now: () => number
  readonly #heartbeatMs: number
  readonly #fetchLimit: number
  readonly #metrics: ClusterLinkOptions['metrics']
  #started = false

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly host: ClusterHost,
    private readonly logger: Logger,
    options: ClusterLinkOptions = {},
  ) {
    this.nodeId = options.nodeId ?? randomUUID()
    this.#now = options.now ?? Date.now
    this.#heartbeatMs = options.presenceHeartbeatMs ?? clusterLinkDefaults.presenceHeartbeatMs
    this.#fetchLimit = options.fetchLimit ?? clusterLinkDefaults.fetchLimit
    this.#metrics = options.metrics
    this.#jobs = [
      new PeriodicJob(
        'cluster-heal',
        options.healIntervalMs ?? clusterLinkDefaults.healIntervalMs,
        () => this.heal(),
        logger,
      ),
      new PeriodicJob(
        'cluster-presence',
        this.#heartbeatMs,
        async () => {
          this.#sendPresence(true)
          this.#presenceExpired(this.#presence.expire(this.#now()))
        },
        logger,
      ),
    ]
  }

  /** Subscribes to the bus, says hello (so that the others send their presence) and starts jobs. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#disposers.push(this.bus.subscribe((message) => this.#received(message)))
    this.#disposers.push(
      this.bus.onReconnect(() => {
        // Anything may have been lost while disconnected.
        void this.heal().catch((err: unknown) => this.logger.warn({ err }, 'cluster heal failed'))
        this.bus.publish({ kind: 'hello', node: this.nodeId })
        this.#sendPresence(true)
      }),
    )
    for (const job of this.#jobs) job.start()
    this.bus.publish({ kind: 'hello', node: this.nodeId })
  }

  async stop(): Promise<void> {
    for (const dispose of this.#disposers.splice(0)) dispose()
    await Promise.all(this.#jobs.map((job) => job.stop()))
  }

  /** A local commit advanced `stream`: tell the other nodes. */
  announce(stream: string, epoch: string, head: number, closed: boolean): void {
    if (this.host.hubPosition(stream) === undefined) this.#known.set(stream, { epoch, head })
    this.bus.publish({ kind: 'head', node: this.nodeId, stream, epoch, head, closed })
  }

  /** A local delete: the other nodes' followers are told. */
  deleted(stream: string): void {
    this.#known.delete(stream)
    this.bus.publish({ kind: 'deleted', node: this.nodeId, stream })
  }

  /** A local signal: the other nodes fan it out to their subscribers. */
  signal(stream: string, from: string, data: unknown): void {
    this.bus.publish({ kind: 'signal', node: this.nodeId, stream, from, data })
  }

  /** This node's presence on `stream` changed: send its new state there. */
  presenceChanged(stream: string, local: readonly PresenceEntry[]): void {
    this.bus.publish({
      kind: 'presence',
      node: this.nodeId,
      streams: { [stream]: [...local] },
      full: false,
      ttlMs: this.#ttlMs(),
    })
  }

  /** Clients of `user` on `stream` on other nodes. */
  remoteCount(stream: string, user: string): number {
    return this.#presence.remoteCount(stream, user)
  }

  /** The cluster-wide presence of `stream`, given this node's. */
  mergePresence(stream: string, local: readonly PresenceEntry[]): PresenceEntry[] {
    return this.#presence.merge(stream, local)
  }

  /**
   * Compares the store's epoch and head of every followed stream with this node's and delivers
   * what was missed. Runs periodically; exposed for tests and for the bus reconnect.
   */
  async heal(): Promise<void> {
    const followed = new Set(this.host.followedStreams())
    // Forget positions of streams nobody follows any more.
    for (const name of this.#known.keys()) if (!followed.has(name)) this.#known.delete(name)
    if (followed.size === 0) return
    const names = [...followed]
    const heads = await this.#heads(names)
    for (const name of names) {
      const local = this.host.hubPosition(name) ?? this.#known.get(name)
      const stored = heads.get(name)
      if (
        local === undefined ||
        stored === undefined ||
        stored.epoch !== local.epoch ||
        stored.head > local.head
      ) {
        if (local !== undefined) this.#metrics?.clusterHeals.inc()
        this.#refresh(name)
      }
    }
  }

  #received(message: BusMessage): void {
    if (message.node === this.nodeId) return
    this.#metrics?.busMessages.inc({ kind: message.kind })
    switch (message.kind) {
      case 'head': {
        const local = this.host.hubPosition(message.stream) ?? this.#known.get(message.stream)
        if (local !== undefined && local.epoch === message.epoch && local.head >= message.head) {
          return
        }
        if (local === undefined && !this.#follows(message.stream)) return
        this.#refresh(message.stream)
        return
      }
      case 'deleted':
        if (this.#follows(message.stream)) this.#refresh(message.stream)
        return
      case 'signal':
        this.host.deliverSignal(message.stream, message.from, message.data)
        return
      case 'presence': {
        const changes = this.#presence.apply(
          message.node,
          message.streams,
          message.full,
          this.#now() + message.ttlMs,
        )
        for (const change of changes) this.host.presenceChanged(change)
        return
      }
      case 'hello':
        // A node (re)joined and knows nobody's presence yet.
        this.#sendPresence(true)
        return
    }
  }

  #follows(stream: string): boolean {
    return this.host.follows(stream)
  }

  /**
   * Brings this node's view of `stream` up to the store: new messages go to the hub (read once
   * here rather than by every pump), a deleted or recreated stream is forgotten. One refresh per
   * stream at a time; asks that arrive meanwhile run once more afterwards.
   */
  #refresh(stream: string): void {
    const running = this.#refreshing.get(stream)
    if (running !== undefined) {
      running.again = true
      return
    }
    const state = { again: false }
    this.#refreshing.set(stream, state)
    const run = async (): Promise<void> => {
      do {
        state.again = false
        await this.#refreshOnce(stream)
      } while (state.again)
    }
    void run()
      .catch((err: unknown) => this.logger.warn({ err, stream }, 'cluster refresh failed'))
      .finally(() => this.#refreshing.delete(stream))
  }

  async #refreshOnce(stream: string): Promise<void> {
    const record = await this.store.getStream(stream)
    const hub = this.host.hubPosition(stream)
    const local = hub ?? this.#known.get(stream)
    if (record === undefined || record.softDeleted) {
      if (local !== undefined || this.#follows(stream)) this.host.forget(stream)
      this.#known.delete(stream)
      return
    }
    if (local !== undefined && local.epoch !== record.epoch) {
      // Deleted and created again elsewhere: positions of the old epoch mean nothing (G3).
      this.host.forget(stream)
      this.#known.delete(stream)
      return
    }
    if (local !== undefined && record.head <= local.head) return
    let messages: StoredMessage[] = []
    if (hub !== undefined) {
      messages = await this.store.read(
        stream,
        hub.head,
        Math.min(record.head - hub.head, this.#fetchLimit),
      )
      // The hub may have moved (a local commit, another epoch) while we awaited the store.
      const now = this.host.hubPosition(stream)
      if (now === undefined || now.epoch !== record.epoch) return
      messages = messages.filter((m) => m.offset > now.head)
    } else {
      this.#known.set(stream, { epoch: record.epoch, head: record.head })
    }
    this.host.advance({
      stream,
      epoch: record.epoch,
      head: record.head,
      closed: record.closed,
      messages,
    })
  }

  async #heads(names: readonly string[]): Promise<Map<string, { epoch: string; head: number }>> {
    const batched = (this.store as Partial<HeadsReader>).getHeads
    if (typeof batched === 'function') return batched.call(this.store, names)
    const heads = new Map<string, { epoch: string; head: number }>()
    for (const name of names) {
      const record = await this.store.getStream(name)
      if (record !== undefined && !record.softDeleted) {
        heads.set(name, { epoch: record.epoch, head: record.head })
      }
    }
    return heads
  }

  #sendPresence(full: boolean): void {
    const streams: Record<string, PresenceEntry[]> = {}
    for (const [stream, entries] of this.host.localPresence()) streams[stream] = entries
    this.bus.publish({ kind: 'presence', node: this.nodeId, streams, full, ttlMs: this.#ttlMs() })
  }

  #presenceExpired(changes: readonly ClusterPresenceChange[]): void {
    for (const change of changes) this.host.presenceChanged(change)
  }

  /** Three missed heartbeats and a node's presence is gone. */
  #ttlMs(): number {
    return this.#heartbeatMs * 3
  }
}

/** The optional batch lookup of heads a store may offer (PostgresStore does). */
interface HeadsReader {
  getHeads(names: readonly string[]): Promise<Map<string, { epoch: string; head: number }>>
}
