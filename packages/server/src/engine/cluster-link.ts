import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Bus, BusMessage } from '../bus/bus.js'
import type { Metrics } from '../observability/metrics.js'
import type { Store, StoredMessage } from '../store/store.js'
import { PeriodicJob } from './periodic-job.js'
import type { Presence } from './presence/presence.js'
import type { CommitEvent } from './stream-followers.js'

/** What the link needs of its engine (implemented by `Engine`, kept narrow on purpose). */
export interface ClusterHost {
  /** Epoch and head of the stream's hub on this node, if anyone here follows it. */
  hubPosition(stream: string): { readonly epoch: string; readonly head: number } | undefined
  /** Streams followed on this node. */
  followedStreams(): Iterable<string>
  /** Delivers a commit made elsewhere as if it were local (`messages` may be empty). */
  advance(event: CommitEvent): void
  /** The stream was deleted (or recreated) elsewhere: tell its followers here. */
  forget(stream: string): void
  /** Fans out a signal from another node to this node's subscribers. */
  deliverSignal(stream: string, from: string, data: unknown): void
  /** Another node revoked rights of `user`: re-check the user's subscriptions here. */
  revoked(user: string, stream: string | undefined): void
  /** Another node ended a client's or a user's connections: end them here too. */
  disconnect(target: { client?: string; user?: string }, final: boolean): void
}

/** Settings of `ClusterLink`. */
export interface ClusterLinkSettings {
  /** This node's id on the bus; random per process when undefined. */
  readonly nodeId: string | undefined
  /** How often the store's heads of followed streams are compared with this node's. */
  readonly healIntervalMs: number
  /** How often this node's whole presence is sent as a heartbeat. */
  readonly presenceHeartbeatMs: number
  /** Messages fetched per announcement to fill the hub window (beyond, pumps read the store). */
  readonly fetchLimit: number
  /**
   * Payload bytes fetched per announcement (past the first message): the hub window's size, as
   * it would drop more at once. Beyond, pumps read the store.
   */
  readonly fetchBytes: number
}

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
 * - signals, presence changes (coalesced by `Presence`), revocations and disconnects travel on the
 *   bus too; a node's presence expires when its heartbeats stop, so the users of a node that died
 *   disappear.
 */
export class ClusterLink {
  readonly nodeId: string
  /** Per stream, the refresh in progress and whether another one was asked for meanwhile. */
  readonly #refreshing = new Map<string, { again: boolean }>()
  readonly #jobs: PeriodicJob[]
  readonly #disposers: (() => void)[] = []
  #started = false

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly host: ClusterHost,
    private readonly presence: Presence,
    private readonly logger: Logger,
    private readonly settings: ClusterLinkSettings,
    private readonly metrics: Pick<Metrics, 'busMessages' | 'clusterHeals'> | undefined,
    private readonly now: () => number,
  ) {
    this.nodeId = settings.nodeId ?? randomUUID()
    this.#jobs = [
      new PeriodicJob('cluster-heal', settings.healIntervalMs, () => this.heal(), logger),
      new PeriodicJob(
        'cluster-presence',
        settings.presenceHeartbeatMs,
        async () => {
          this.#sendPresence(this.presence.localState(), true)
          this.presence.expireRemote(this.now())
        },
        logger,
      ),
    ]
  }

  /** Subscribes to the bus, says hello (so that the others send their presence) and starts jobs. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.presence.onLocalChanges = (streams) => this.#sendPresence(streams, false)
    this.#disposers.push(this.bus.subscribe((message) => this.#received(message)))
    this.#disposers.push(
      this.bus.onReconnect(() => {
        // Anything may have been lost while disconnected.
        void this.heal().catch((err: unknown) => this.logger.warn({ err }, 'cluster heal failed'))
        this.bus.publish({ kind: 'hello', node: this.nodeId })
        this.#sendPresence(this.presence.localState(), true)
      }),
    )
    for (const job of this.#jobs) job.start()
    this.bus.publish({ kind: 'hello', node: this.nodeId })
  }

  async stop(): Promise<void> {
    this.presence.onLocalChanges = undefined
    for (const dispose of this.#disposers.splice(0)) dispose()
    await Promise.all(this.#jobs.map((job) => job.stop()))
  }

  /** A local commit advanced `stream`: tell the other nodes. */
  announce(stream: string, epoch: string, head: number, closed: boolean): void {
    this.bus.publish({ kind: 'head', node: this.nodeId, stream, epoch, head, closed })
  }

  /** A local delete: the other nodes' followers are told. */
  deleted(stream: string): void {
    this.bus.publish({ kind: 'deleted', node: this.nodeId, stream })
  }

  /** A local signal: the other nodes fan it out to their subscribers. */
  signal(stream: string, from: string, data: unknown): void {
    this.bus.publish({ kind: 'signal', node: this.nodeId, stream, from, data })
  }

  /** Rights of `user` changed: the other nodes re-check the user's subscriptions. */
  revoke(user: string, stream: string | undefined): void {
    this.bus.publish({
      kind: 'revoke',
      node: this.nodeId,
      user,
      ...(stream === undefined ? {} : { stream }),
    })
  }

  /** End a client's or a user's connections on the other nodes. */
  disconnect(target: { client?: string; user?: string }, final: boolean): void {
    this.bus.publish({ kind: 'disconnect', node: this.nodeId, ...target, final })
  }

  /**
   * Compares the store's epoch and head of every followed stream with this node's and delivers
   * what was missed. Runs periodically; exposed for tests and for the bus reconnect.
   */
  async heal(): Promise<void> {
    const names = [...this.host.followedStreams()]
    if (names.length === 0) return
    const heads = await this.store.getHeads(names)
    for (const name of names) {
      const local = this.host.hubPosition(name)
      const stored = heads.get(name)
      if (local === undefined) continue
      if (stored === undefined) {
        // Deleted elsewhere — or not created yet, which a follower at offset 0 waits for.
        if (local.epoch !== '') this.#refresh(name)
        continue
      }
      if (stored.epoch !== local.epoch || stored.head > local.head) {
        if (local.epoch !== '') this.metrics?.clusterHeals.inc()
        this.#refresh(name)
      }
    }
  }

  #received(message: BusMessage): void {
    if (message.node === this.nodeId) return
    this.metrics?.busMessages.inc({ kind: message.kind })
    switch (message.kind) {
      case 'head': {
        const local = this.host.hubPosition(message.stream)
        if (local === undefined) return
        if (local.epoch === message.epoch && local.head >= message.head) return
        this.#refresh(message.stream)
        return
      }
      case 'deleted':
        if (this.host.hubPosition(message.stream) !== undefined) this.#refresh(message.stream)
        return
      case 'signal':
        this.host.deliverSignal(message.stream, message.from, message.data)
        return
      case 'presence':
        this.presence.applyRemote(
          message.node,
          message.streams,
          message.full,
          this.now() + message.ttlMs,
        )
        return
      case 'hello':
        // A node (re)joined and knows nobody's presence yet.
        this.#sendPresence(this.presence.localState(), true)
        return
      case 'revoke':
        this.host.revoked(message.user, message.stream)
        return
      case 'disconnect':
        this.host.disconnect(
          {
            ...(message.client === undefined ? {} : { client: message.client }),
            ...(message.user === undefined ? {} : { user: message.user }),
          },
          message.final,
        )
        return
    }
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
    const local = this.host.hubPosition(stream)
    if (local === undefined) return
    if (record === undefined || record.softDeleted) {
      if (local.epoch !== '') this.host.forget(stream)
      return
    }
    if (local.epoch !== '' && local.epoch !== record.epoch) {
      // Deleted and created again elsewhere: positions of the old epoch mean nothing (G3).
      this.host.forget(stream)
      return
    }
    if (local.epoch === record.epoch && record.head <= local.head) return
    let messages: StoredMessage[] = []
    if (local.epoch === record.epoch) {
      messages = await this.store.read(
        stream,
        local.head,
        Math.min(record.head - local.head, this.settings.fetchLimit),
        this.settings.fetchBytes,
      )
      // The hub may have moved (a local commit, another epoch) while we awaited the store.
      const now = this.host.hubPosition(stream)
      if (now === undefined || now.epoch !== record.epoch) return
      messages = messages.filter((m) => m.offset > now.head)
    }
    this.host.advance({
      stream,
      epoch: record.epoch,
      head: record.head,
      closed: record.closed,
      messages,
      contentType: record.contentType,
    })
  }

  #sendPresence(
    streams: Record<string, readonly { user: string; clients: number }[]>,
    full: boolean,
  ): void {
    if (!full && Object.keys(streams).length === 0) return
    this.bus.publish({
      kind: 'presence',
      node: this.nodeId,
      streams,
      full,
      ttlMs: this.settings.presenceHeartbeatMs * 3,
    })
  }
}
