import {
  ErrorCode,
  type PresenceEntry,
  SeqlineError,
  type StartFrom,
  isValidStreamName,
} from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Authorize, AuthorizeAction } from '../auth/authenticator.js'
import type { Bus } from '../bus/bus.js'
import type { Metrics } from '../observability/metrics.js'
import {
  type AppendRequest,
  type AppendResult,
  type ClientRecord,
  type CreateStreamInput,
  type CreateStreamResult,
  type CursorRecord,
  type JsonArrayChunk,
  JSON_CONTENT_TYPE,
  type RetentionPolicy,
  type StoredMessage,
  type Store,
  type StreamRecord,
} from '../store/store.js'
import { ClientDirectory } from './client-directory.js'
import { type ClusterHost, ClusterLink, type ClusterLinkOptions } from './cluster-link.js'
import { CursorBuffer } from './cursor-buffer.js'
import { GroupCommitter } from './group-committer.js'
import { type Limits, defaultLimits } from './limits.js'
import { encodeFrame } from './message-frame.js'
import { PeriodicJob } from './periodic-job.js'
import { type PresenceChange, PresenceTracker } from './presence-tracker.js'
import { RateLimiter } from './rate-limiter.js'
import { resolveStart } from './resolve-start.js'
import { RetentionHolds } from './retention-holds.js'
import { StreamHub } from './stream-hub.js'
import { type Session, Subscription, type SubscriptionObserver } from './subscription.js'

export interface EngineOptions {
  readonly store: Store
  readonly logger: Logger
  readonly metrics?: Metrics | undefined
  /** Called on every subscribe, resume, publish, signal and ack. Default: allow everything. */
  readonly authorize?: Authorize | undefined
  readonly limits?: Partial<Limits> | undefined
  readonly retention?:
    { readonly defaultPolicy?: RetentionPolicy; readonly intervalMs?: number } | undefined
  /** Clients not seen for this long are garbage-collected with their cursors. */
  readonly clientTtlMs?: number | undefined
  readonly gcIntervalMs?: number | undefined
  /** How often streams past their TTL / `Stream-Expires-At` are deleted. */
  readonly expiryIntervalMs?: number | undefined
  /** How often batched acks are written. */
  readonly cursorFlushMs?: number | undefined
  /** Bytes queued on a socket above which its pumps pause (G6). */
  readonly highWaterMark?: number | undefined
  /** Messages read from the store per query during catch-up. */
  readonly pageSize?: number | undefined
  /** Bytes of recent framed messages kept per followed stream for live fan-out. */
  readonly windowBytes?: number | undefined
  readonly now?: (() => number) | undefined
  /**
   * Multi-node: the bus this node shares commits, signals and presence on with the other nodes
   * of the same store (see cluster-link.ts). Default: none, a single node.
   */
  readonly bus?: Bus | undefined
  /** Node id, heal interval and presence heartbeat of the cluster link (with `bus`). */
  readonly cluster?: ClusterLinkOptions | undefined
}

/** Documented defaults of the engine's tunables. */
export const engineDefaults = {
  retentionPolicy: { maxAgeMs: 7 * 24 * 3600 * 1000 } satisfies RetentionPolicy,
  retentionIntervalMs: 60_000,
  clientTtlMs: 30 * 24 * 3600 * 1000,
  gcIntervalMs: 3600_000,
  expiryIntervalMs: 1_000,
  cursorFlushMs: 250,
  highWaterMark: 1024 * 1024,
  pageSize: 512,
  windowBytes: 4 * 1024 * 1024,
} as const

/** A committed append, as seen by `onCommit` listeners (HTTP long-poll / SSE). */
export interface CommitEvent {
  readonly stream: string
  readonly epoch: string
  readonly head: number
  readonly closed: boolean
  readonly messages: readonly StoredMessage[]
}

/**
 * The transport-agnostic heart of Seqline (DESIGN §3). Transports parse and frame; the engine owns
 * the semantics: group-committed appends with idempotent producers, clients and their cursors,
 * subscriptions (resume, reset, cursor-pump fan-out), signals, presence and housekeeping.
 */
export class Engine {
  readonly store: Store
  readonly limits: Limits
  /** Registered clients and their secrets (G7). */
  readonly clients: ClientDirectory
  readonly #logger: Logger
  readonly #metrics: Metrics | undefined
  readonly #authorize: Authorize | undefined
  readonly #now: () => number
  readonly #committer: GroupCommitter
  readonly #hubs = new Map<string, StreamHub>()
  readonly #subscriptions = new Set<Subscription>()
  /** What every live reader still needs, so retention never trims it (see RetentionHolds). */
  readonly #holds = new RetentionHolds()
  readonly #presence = new PresenceTracker()
  readonly #cursors = new CursorBuffer()
  readonly #rate: RateLimiter
  readonly #commitListeners = new Map<string, Set<(event: CommitEvent) => void>>()
  readonly #jobs: PeriodicJob[]
  readonly #options: EngineOptions
  readonly #retentionPolicy: RetentionPolicy
  /** Set when the engine runs as one node of several (`bus` option). */
  readonly #cluster: ClusterLink | undefined
  #closed = false

  constructor(options: EngineOptions) {
    this.#options = options
    this.store = options.store
    this.#logger = options.logger
    this.#metrics = options.metrics
    this.#authorize = options.authorize
    this.#now = options.now ?? Date.now
    this.limits = { ...defaultLimits, ...options.limits }
    this.clients = new ClientDirectory(this.store, this.limits, this.#now)
    this.#retentionPolicy = options.retention?.defaultPolicy ?? engineDefaults.retentionPolicy
    this.#rate = new RateLimiter(this.limits.publishRatePerSec, this.limits.publishBurst, this.#now)
    this.#committer = new GroupCommitter(this.store, (batch, results, seconds) =>
      this.#committed(batch, results, seconds),
    )
    this.#jobs = [
      new PeriodicJob(
        'retention',
        options.retention?.intervalMs ?? engineDefaults.retentionIntervalMs,
        () => this.runRetention(),
        this.#logger,
      ),
      new PeriodicJob(
        'client-gc',
        options.gcIntervalMs ?? engineDefaults.gcIntervalMs,
        () => this.runClientGc().then(() => undefined),
        this.#logger,
      ),
      // Durable Streams TTL / Expires-At (§5.1): expired streams are deleted (soft-deleted when
      // forks reference them). HTTP requests also check expiry themselves, so this job only
      // bounds how long an expired, untouched stream keeps its storage.
      new PeriodicJob(
        'stream-expiry',
        options.expiryIntervalMs ?? engineDefaults.expiryIntervalMs,
        () => this.runExpiry().then(() => undefined),
        this.#logger,
      ),
      new PeriodicJob(
        'cursor-flush',
        options.cursorFlushMs ?? engineDefaults.cursorFlushMs,
        () => this.flushCursors(),
        this.#logger,
      ),
    ]
    this.#cluster =
      options.bus === undefined
        ? undefined
        : new ClusterLink(options.bus, this.store, this.#clusterHost, this.#logger, {
            ...options.cluster,
            metrics: options.cluster?.metrics ?? options.metrics,
          })
  }

  /** Starts the periodic jobs (retention, client GC, cursor flush) on unref()ed timers. */
  start(): void {
    for (const job of this.#jobs) job.start()
    this.#cluster?.start()
  }

  /** Commits everything pending (appends, then acks) and stops the jobs. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const subscription of this.#subscriptions) subscription.stop()
    await this.#committer.close()
    await this.#cluster?.stop()
    await Promise.all(this.#jobs.map((job) => job.stop()))
    await this.flushCursors()
  }

  // ---------------------------------------------------------------------------------------------
  // Authorization and limits

  /** Throws FORBIDDEN unless the authorize hook allows `action` on `stream` for `userId` (G8). */
  async authorize(userId: string, stream: string, action: AuthorizeAction): Promise<void> {
    if (!isValidStreamName(stream)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    if (this.#authorize === undefined) return
    let allowed: boolean
    try {
      allowed = await this.#authorize(userId, stream, action, { claims: {} })
    } catch (cause) {
      this.#logger.error({ err: cause, stream, action }, 'authorize hook failed')
      allowed = false
    }
    if (!allowed) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, `not allowed to ${action} ${stream}`)
    }
  }

  /** Takes one publish token of the client's rate budget; false when over the limit. */
  takePublishToken(clientId: string): boolean {
    return this.#rate.take(clientId)
  }

  // ---------------------------------------------------------------------------------------------
  // Streams and appends

  /**
   * Queues an append for the next group commit. The call enqueues synchronously, so appends made
   * in order commit in order. Resolves once committed (or rejected by validation).
   */
  append(request: Omit<AppendRequest, 'now'>): Promise<AppendResult> {
    if (this.#closed) {
      return Promise.reject(new SeqlineError(ErrorCode.SHUTTING_DOWN, 'server is shutting down'))
    }
    return this.#committer.append({ ...request, now: this.#now() })
  }

  /**
   * Server-side publish of one JSON value, with the same durability as a client's (G1): resolves
   * after commit. Creates the stream if needed.
   */
  async publish(
    stream: string,
    data: unknown,
    options?: { readonly from?: string | null },
  ): Promise<{ epoch: string; offset: number }> {
    if (!isValidStreamName(stream)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    const text = JSON.stringify(data)
    if (text === undefined) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'data is not JSON')
    const result = await this.append({
      stream,
      payloads: [Buffer.from(text)],
      from: options?.from ?? null,
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
    })
    if (result.kind === 'rejected') throw new SeqlineError(result.code, result.message)
    if (result.kind === 'duplicate') return { epoch: result.epoch, offset: result.offset }
    return { epoch: result.epoch, offset: result.head }
  }

  async createStream(input: Omit<CreateStreamInput, 'now'>): Promise<CreateStreamResult> {
    const result = await this.store.createStream({ ...input, now: this.#now() })
    if (result.kind === 'created' && result.stream.head > 0) {
      this.#notify({
        stream: result.stream.name,
        epoch: result.stream.epoch,
        head: result.stream.head,
        closed: result.stream.closed,
        messages: [],
      })
      const { name, epoch, head, closed } = result.stream
      this.#cluster?.announce(name, epoch, head, closed)
    }
    return result
  }

  getStream(name: string): Promise<StreamRecord | undefined> {
    return this.store.getStream(name)
  }

  read(name: string, after: number, limit: number): Promise<StoredMessage[]> {
    return this.store.read(name, after, limit)
  }

  /** A JSON stream's messages after `after` as one JSON array; see `Store.readJsonArray`. */
  readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    return this.store.readJsonArray(name, after, limit, maxBytes)
  }

  /** Deletes a stream. Its subscribers get STREAM_NOT_FOUND and are unsubscribed. */
  async deleteStream(name: string): Promise<boolean> {
    const existed = await this.store.deleteStream(name)
    this.#forget(name)
    if (existed) this.#cluster?.deleted(name)
    return existed
  }

  /** Tells this node's followers of `name` that it was deleted (here or on another node). */
  #forget(name: string): void {
    const hub = this.#hubs.get(name)
    if (hub !== undefined) {
      this.#hubs.delete(name)
      for (const subscription of [...this.#subscriptions]) {
        if (subscription.hub !== hub) continue
        subscription.session.sink.send(
          encodeFrame({
            t: 'error',
            code: ErrorCode.STREAM_NOT_FOUND,
            message: 'the stream was deleted',
            stream: name,
          }),
        )
        this.unsubscribe(subscription)
      }
    }
    for (const listener of this.#commitListeners.get(name) ?? []) {
      listener({ stream: name, epoch: '', head: 0, closed: true, messages: [] })
    }
  }

  /**
   * Calls `listener` after every commit to `stream` (also for closures). Returns the disposer.
   * Used by the HTTP live modes; WebSocket subscriptions use cursor pumps instead.
   */
  onCommit(stream: string, listener: (event: CommitEvent) => void): () => void {
    let listeners = this.#commitListeners.get(stream)
    if (listeners === undefined) this.#commitListeners.set(stream, (listeners = new Set()))
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0) this.#commitListeners.delete(stream)
    }
  }

  #committed(
    batch: readonly AppendRequest[],
    results: readonly AppendResult[],
    seconds: number,
  ): void {
    this.#metrics?.commitLatency.observe(seconds)
    this.#metrics?.commitBatchSize.observe(batch.length)
    // One announcement per stream per batch, with the batch's last (highest) head.
    const advanced = this.#cluster === undefined ? undefined : new Map<string, CommitEvent>()
    results.forEach((result, i) => {
      this.#metrics?.publishes.inc({ result: result.kind })
      const request = batch[i]
      if (result.kind !== 'appended' || request === undefined) return
      const event: CommitEvent = {
        stream: request.stream,
        epoch: result.epoch,
        head: result.head,
        closed: result.closed,
        messages: result.messages,
      }
      advanced?.set(request.stream, event)
      try {
        this.#notify(event)
      } catch (err) {
        this.#logger.error({ err, stream: request.stream }, 'fan-out failed')
      }
    })
    for (const e of advanced?.values() ?? []) {
      this.#cluster?.announce(e.stream, e.epoch, e.head, e.closed)
    }
  }

  #notify(event: CommitEvent): void {
    this.#hubs.get(event.stream)?.advance(event.epoch, event.head, event.messages)
    for (const listener of this.#commitListeners.get(event.stream) ?? []) listener(event)
  }

  // ---------------------------------------------------------------------------------------------
  // Subscriptions, signals, presence

  /**
   * Subscribes a session to a stream (authorised every time, resume included — G8). Without
   * `from`, resumes from the client's cursor when it has one in the stream's current epoch, else
   * starts at the head. A position that cannot be resumed gets `reset` (G3) and the subscription
   * continues live from the head. Sends the presence snapshot, then the replay, then `caughtUp`.
   */
  async subscribe(session: Session, stream: string, from?: StartFrom): Promise<Subscription> {
    await this.authorize(session.userId, stream, 'read')
    let record = await this.store.getStream(stream)
    if (record === undefined) {
      const created = await this.store.createStream({
        name: stream,
        contentType: JSON_CONTENT_TYPE,
        now: this.#now(),
      })
      // Only a fork can be rejected; this is none, but the union says so (Durable Streams §4.2).
      if (created.kind === 'rejected') throw new SeqlineError(created.code, created.message)
      record = created.stream
    }
    // A soft-deleted stream is a tombstone kept for its forks (Durable Streams §4.2).
    if (record.softDeleted) throw new SeqlineError(ErrorCode.GONE, 'the stream was deleted')
    let start = from
    if (start === undefined) {
      // Through getCursors(), which writes the acks still buffered (cursorFlushMs) first: a client
      // that acks, drops and reconnects within one flush interval must resume from that ack, not
      // from an older cursor or — without any — from 'latest', which would skip what it missed (G2).
      const cursor = (await this.getCursors(session.clientId)).find((c) => c.stream === stream)
      start =
        cursor !== undefined && cursor.epoch === record.epoch
          ? { epoch: cursor.epoch, offset: cursor.offset }
          : 'latest'
    }
    // Commits that land between our read of the record and the hub's registration would reach
    // neither: so register the hub first, then read the record again. Every commit is now either
    // in that second read or delivered to the hub.
    const hub = this.#hub(record)
    const fresh = (await this.store.getStream(stream)) ?? record
    // A head newer than the hub's (a commit on another node whose announcement was lost) must
    // wake the pumps already following this stream, not only serve this subscription: raising the
    // hub's head silently would leave them idle below it — and the heal job, which compares the
    // store with the hub, would see nothing to repair.
    if (fresh.epoch === hub.epoch && fresh.head > hub.head) hub.advance(hub.epoch, fresh.head, [])
    const current = { epoch: hub.epoch, head: hub.head, tail: fresh.tail }
    const decision = resolveStart(current, start)
    const position = decision.kind === 'replay' ? decision.position : current.head
    const subscription = new Subscription(
      stream,
      session,
      hub,
      this.store,
      this.#subscriptionObserver,
      {
        pageSize: this.#options.pageSize ?? engineDefaults.pageSize,
        highWaterMark: this.#options.highWaterMark ?? engineDefaults.highWaterMark,
      },
      position,
      decision.kind === 'replay' && decision.recovered,
      start,
    )
    if (decision.kind === 'reset')
      subscription.sendReset(decision.reason, current.head, current.tail)
    this.#subscriptions.add(subscription)
    this.#holds.hold(subscription, stream, () => subscription.needsFrom)
    const users = this.presenceOf(stream)
    const count = { users: users.length, clients: users.reduce((n, e) => n + e.clients, 0) }
    session.sink.send(encodeFrame({ t: 'presence', stream, users, count, complete: true }))
    this.#presenceChanged(this.#presence.join(stream, session.userId, session.clientId))
    subscription.start()
    return subscription
  }

  /** Ends a subscription and updates presence. Idempotent. */
  unsubscribe(subscription: Subscription): void {
    if (!this.#subscriptions.delete(subscription)) return
    this.#holds.release(subscription, subscription.stream)
    subscription.stop()
    const { stream, session } = subscription
    this.#presenceChanged(this.#presence.leave(stream, session.userId, session.clientId))
    if (subscription.hub.members.size === 0 && this.#hubs.get(stream) === subscription.hub) {
      this.#hubs.delete(stream)
    }
  }

  /**
   * Sends an ephemeral signal to the stream's current subscribers except the sender. Never stored;
   * dropped for subscribers whose socket is above the high-water mark (G6).
   */
  async signal(session: Session, stream: string, data: unknown): Promise<number> {
    await this.authorize(session.userId, stream, 'signal')
    // Subscribers on other nodes get it through the bus (count: this node's only).
    this.#cluster?.signal(stream, session.userId, data)
    const sent = this.#fanOutSignal(stream, session.userId, data, session.sink.id)
    this.#metrics?.signals.inc()
    return sent
  }

  /** Sends a signal to this node's subscribers of `stream`, except the sender's socket. */
  #fanOutSignal(stream: string, from: string, data: unknown, exceptSink?: string): number {
    const hub = this.#hubs.get(stream)
    if (hub === undefined) return 0
    const frame = encodeFrame({ t: 'signal', stream, from, data })
    const highWaterMark = this.#options.highWaterMark ?? engineDefaults.highWaterMark
    let sent = 0
    for (const subscription of this.#subscriptions) {
      const sink = subscription.session.sink
      if (subscription.hub !== hub || sink.id === exceptSink) continue
      if (sink.bufferedAmount > highWaterMark) continue
      sink.send(frame)
      sent += 1
    }
    return sent
  }

  /** Who is connected to `stream` now — on every node when the engine runs with a bus. */
  presenceOf(stream: string): PresenceEntry[] {
    const local = this.#presence.snapshot(stream)
    return this.#cluster === undefined ? local : this.#cluster.mergePresence(stream, local)
  }

  #presenceChanged(local: PresenceChange | undefined): void {
    if (local === undefined) return
    this.#cluster?.presenceChanged(local.stream, this.#presence.snapshot(local.stream))
    this.#sendPresenceDelta(local.stream, local.user)
  }

  /** Sends `user`'s client count on `stream` (all nodes) to this node's subscribers. */
  #sendPresenceDelta(stream: string, user: string): void {
    const hub = this.#hubs.get(stream)
    if (hub === undefined) return
    const local = this.#presence.snapshot(stream).find((e) => e.user === user)?.clients ?? 0
    const clients = local + (this.#cluster?.remoteCount(stream, user) ?? 0)
    const users = this.presenceOf(stream)
    const count = { users: users.length, clients: users.reduce((n, e) => n + e.clients, 0) }
    const frame = encodeFrame({
      t: 'presenceDiff',
      stream,
      changes: [{ user, clients }],
      count,
    })
    for (const subscription of this.#subscriptions) {
      if (subscription.hub === hub) subscription.session.sink.send(frame)
    }
  }

  #hub(record: StreamRecord): StreamHub {
    let hub = this.#hubs.get(record.name)
    if (hub === undefined || hub.epoch !== record.epoch) {
      hub = new StreamHub(
        record.name,
        record.epoch,
        record.contentType,
        record.head,
        this.#options.windowBytes ?? engineDefaults.windowBytes,
      )
      this.#hubs.set(record.name, hub)
    }
    return hub
  }

  /** What the cluster link sees of this engine (multi-node, `bus` option). */
  readonly #clusterHost: ClusterHost = {
    hubPosition: (stream) => {
      const hub = this.#hubs.get(stream)
      return hub === undefined ? undefined : { epoch: hub.epoch, head: hub.head }
    },
    followedStreams: () => new Set([...this.#hubs.keys(), ...this.#commitListeners.keys()]),
    follows: (stream) => this.#hubs.has(stream) || this.#commitListeners.has(stream),
    advance: (event) => this.#notify(event),
    forget: (stream) => this.#forget(stream),
    deliverSignal: (stream, from, data) => {
      this.#fanOutSignal(stream, from, data)
    },
    presenceChanged: ({ stream, user }) => this.#sendPresenceDelta(stream, user),
    localPresence: () => this.#presence.all(),
  }

  readonly #subscriptionObserver: SubscriptionObserver = {
    delivered: (count) => this.#metrics?.deliveries.inc(count),
    replayed: (count) => this.#metrics?.replayLag.observe(count),
    reset: (reason) => this.#metrics?.resets.inc({ reason }),
    failed: (subscription, err) => {
      this.#logger.error({ err, stream: subscription.stream }, 'subscription failed')
      subscription.session.sink.send(
        encodeFrame({
          t: 'error',
          code: ErrorCode.INTERNAL,
          message: 'subscription failed; subscribe again',
          stream: subscription.stream,
        }),
      )
      this.unsubscribe(subscription)
    },
  }

  // ---------------------------------------------------------------------------------------------
  // Clients and cursors (G7)

  /** Registers a new client of `userId`; see {@link ClientDirectory.register}. */
  registerClient(userId: string): Promise<{ clientId: string; secret: string }> {
    return this.clients.register(userId)
  }

  /** Checks a client's owner and secret; see {@link ClientDirectory.verify}. */
  verifyClient(userId: string, clientId: string, secret: string): Promise<ClientRecord> {
    return this.clients.verify(userId, clientId, secret)
  }

  /** Checks a client's owner only; see {@link ClientDirectory.own}. */
  ownClient(userId: string, clientId: string): Promise<ClientRecord> {
    return this.clients.own(userId, clientId)
  }

  /** Gives a client a new secret; see {@link ClientDirectory.rotateSecret}. */
  rotateClientSecret(userId: string, clientId: string): Promise<{ secret: string }> {
    return this.clients.rotateSecret(userId, clientId)
  }

  /** Deletes a client with its cursors; see {@link ClientDirectory.forget}. */
  forgetClient(userId: string, clientId: string): Promise<void> {
    return this.clients.forget(userId, clientId)
  }

  /** Marks a client connected until the disposer runs; see {@link ClientDirectory.connected}. */
  clientConnected(clientId: string): () => void {
    return this.clients.connected(clientId)
  }

  /**
   * Records a cumulative ack (acked = processed by the app). Written in batches; the offset must
   * not pass the stream's head.
   */
  async ack(userId: string, clientId: string, stream: string, offset: number): Promise<void> {
    await this.authorize(userId, stream, 'read')
    const hub = this.#hubs.get(stream)
    let epoch = hub?.epoch
    let head = hub?.head ?? 0
    if (hub === undefined || offset > head) {
      const record = await this.store.getStream(stream)
      if (record === undefined) {
        throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'no such stream')
      }
      epoch = record.epoch
      head = Math.max(head, record.head)
    }
    if (offset > head) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, `ack offset ${offset} is past the head ${head}`)
    }
    this.#cursors.record({ clientId, stream, epoch: epoch ?? '', offset })
  }

  async getCursors(clientId: string): Promise<CursorRecord[]> {
    await this.flushCursors()
    return this.store.getCursors(clientId)
  }

  async getCursorsOfStream(stream: string): Promise<CursorRecord[]> {
    await this.flushCursors()
    return this.store.getCursorsOfStream(stream)
  }

  /** Writes the acks collected since the last flush. */
  async flushCursors(): Promise<void> {
    if (this.#cursors.size === 0) return
    await this.store.saveCursors(this.#cursors.drain(), this.#now())
  }

  // ---------------------------------------------------------------------------------------------
  // Housekeeping (DESIGN §9)

  /**
   * Registers a live reader outside the WebSocket subscriptions (an HTTP SSE session) so that
   * retention never trims what it still has to send, as for subscriptions. Returns the disposer.
   */
  holdRetention(stream: string, needsFrom: () => number): () => void {
    const reader = {}
    this.#holds.hold(reader, stream, needsFrom)
    return () => this.#holds.release(reader, stream)
  }

  /**
   * Applies each stream's retention policy (or the default). Never trims what a subscription on
   * this node still has to send; a client below the new tail on resume gets `reset`.
   */
  async runRetention(): Promise<void> {
    let after: string | undefined
    for (;;) {
      const page = await this.store.listStreams(after, 200)
      for (const record of page) {
        await this.store.trim(record.name, {
          policy: record.retention ?? this.#retentionPolicy,
          now: this.#now(),
          keepFrom: this.#holds.keepFrom(record.name),
        })
      }
      const last = page.at(-1)
      if (last === undefined || page.length < 200) return
      after = last.name
    }
  }

  /**
   * Deletes streams whose TTL or absolute expiry has passed (Durable Streams §5.1); returns how
   * many. Subscribers and live HTTP readers of a deleted stream are told as for any delete.
   */
  async runExpiry(): Promise<number> {
    let count = 0
    for (;;) {
      const names = await this.store.expiredStreams(this.#now(), 200)
      let deleted = 0
      for (const name of names) if (await this.deleteStream(name)) deleted += 1
      count += deleted
      // A page that deleted nothing would come back the same: stop rather than spin.
      if (names.length < 200 || deleted === 0) return count
    }
  }

  /** Removes clients not seen for the TTL (connected clients are seen now). */
  async runClientGc(): Promise<number> {
    const now = this.#now()
    await this.clients.touchConnected(now)
    this.#rate.prune()
    const ttl = this.#options.clientTtlMs ?? engineDefaults.clientTtlMs
    return (await this.store.gcClients(now - ttl)).length
  }
}
