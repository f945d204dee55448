import { ErrorCode, SeqlineError, type StartFrom, isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Authorize, AuthorizeAction, Principal } from '../auth/authenticator.js'
import { Authorizer } from '../auth/authorizer.js'
import type { Bus } from '../bus/bus.js'
import type { Metrics } from '../observability/metrics.js'
import type { ServerSettings } from '../settings/server-settings.js'
import { isExpired } from '../store/store-rules.js'
import {
  type AppendRequest,
  type AppendResult,
  type ClientRecord,
  type CreateStreamInput,
  type CreateStreamResult,
  type CursorRecord,
  type JsonArrayChunk,
  JSON_CONTENT_TYPE,
  type StoredMessage,
  type Store,
  type StreamRecord,
} from '../store/store.js'
import { Admission, type Publisher } from './admission.js'
import { ClientDirectory } from './client-directory.js'
import { type ClusterHost, ClusterLink } from './cluster-link.js'
import { CursorLog } from './cursor-log.js'
import type { Follower } from './follower.js'
import { GroupCommitter } from './group-committer.js'
import { Housekeeping } from './housekeeping.js'
import { Presence, type PresencePage } from './presence/presence.js'
import { presenceModes } from './presence/presence-rules.js'
import { resolveStart } from './resolve-start.js'
import { EngineSession, type SessionEnd, type SessionHost } from './session.js'
import { type CommitEvent, NO_EPOCH, StreamFollowers } from './stream-followers.js'
import { type ReaderEvents, StreamReader } from './stream-reader.js'
import { Subscription, type SubscriptionObserver } from './subscription.js'

/** The settings the engine runs with (a slice of the server's). */
export type EngineSettings = Pick<
  ServerSettings,
  | 'limits'
  | 'delivery'
  | 'presence'
  | 'retention'
  | 'clients'
  | 'cursors'
  | 'expiry'
  | 'cluster'
  | 'authorizeCacheMs'
>

/** What the engine is built from. */
export interface EngineDeps {
  readonly store: Store
  readonly logger: Logger
  readonly metrics: Metrics
  /** Called for every subscribe, resume, publish, signal, ack, presence lookup and management. */
  readonly authorize: Authorize
  /** Multi-node: the bus this node shares commits, signals and presence on. Default: one node. */
  readonly bus?: Bus | undefined
  readonly now?: (() => number) | undefined
  /** Told of clients and streams coming and going (webhooks record it durably). */
  readonly lifecycle?: EngineLifecycle | undefined
}

/**
 * What the engine reports as it happens: clients registered and forgotten, streams deleted. The
 * operation resolves once its report resolved, so a report that records the event durably (the
 * webhook log) makes the event as durable as the operation's answer. A report that fails is
 * logged; the operation stands.
 */
export interface EngineLifecycle {
  clientRegistered(user: string, clientId: string): Promise<void>
  clientForgotten(user: string, clientId: string, reason: 'forgotten' | 'expired'): Promise<void>
  streamDeleted(stream: string, reason: 'deleted' | 'expired'): Promise<void>
}

/** What a transport passes to open a session. */
export interface SessionInit {
  readonly connectionId: string
  readonly principal: Principal
  readonly clientId: string
  readonly follower: Follower
  /** How the transport ends the connection when the server revokes it. */
  readonly onEnd: (end: SessionEnd) => void
}

/**
 * The transport-agnostic heart of Seqline (DESIGN §3), a small façade over its parts: group-
 * committed appends (GroupCommitter), the followers of each stream with their cursor pumps
 * (StreamFollowers), presence (Presence), cursors (CursorLog), clients (ClientDirectory), the one
 * admission path (Admission), housekeeping (Housekeeping) and, with a bus, the other nodes
 * (ClusterLink). Transports open sessions and speak to them; the engine alone owns subscriptions,
 * and it knows no wire format: followers receive typed events (engine/follower.ts).
 */
export class Engine {
  readonly #store: Store
  readonly #logger: Logger
  readonly #metrics: Metrics
  readonly #now: () => number
  readonly #settings: EngineSettings
  readonly #authorizer: Authorizer
  readonly #admission: Admission
  readonly #committer: GroupCommitter
  readonly #followers: StreamFollowers
  readonly #presence: Presence
  readonly #cursors: CursorLog
  readonly #clients: ClientDirectory
  readonly #housekeeping: Housekeeping
  readonly #cluster: ClusterLink | undefined
  readonly #lifecycle: EngineLifecycle | undefined
  /** Live sessions by user and by client: revocations and disconnects find them here. */
  readonly #sessionsByUser = new Map<string, Set<EngineSession>>()
  readonly #sessionsByClient = new Map<string, Set<EngineSession>>()
  /** Per session, what marks its client disconnected again. */
  readonly #sessionDisposers = new Map<EngineSession, () => void>()
  #closed = false

  constructor(deps: EngineDeps, settings: EngineSettings) {
    this.#store = deps.store
    this.#logger = deps.logger
    this.#metrics = deps.metrics
    this.#now = deps.now ?? Date.now
    this.#settings = settings
    this.#lifecycle = deps.lifecycle
    this.#authorizer = new Authorizer(deps.authorize, deps.logger, {
      cacheMs: settings.authorizeCacheMs,
      now: this.#now,
    })
    this.#admission = new Admission(settings.limits, this.#authorizer, this.#now)
    this.#committer = new GroupCommitter(this.#store, (batch, results, seconds) =>
      this.#committed(batch, results, seconds),
    )
    this.#followers = new StreamFollowers(this.#store, settings.delivery.windowBytes)
    this.#presence = new Presence({
      intervalMs: settings.presence.intervalMs,
      snapshotUsers: settings.presence.snapshotUsers,
      highWaterMark: settings.delivery.highWaterMark,
      modeOf: presenceModes(settings.presence.rules, 'on'),
    })
    this.#cursors = new CursorLog(this.#store, this.#followers, this.#now)
    this.#clients = new ClientDirectory(this.#store, settings.limits, this.#now)
    this.#housekeeping = new Housekeeping(
      {
        store: this.#store,
        followers: this.#followers,
        clients: this.#clients,
        cursors: this.#cursors,
        deleteStream: (name) => this.deleteStream(name),
        prune: () => this.#admission.prune(),
        expired: (count) => deps.metrics.streamsExpired.inc(count),
        logger: this.#logger,
        now: this.#now,
      },
      settings,
    )
    this.#cluster =
      deps.bus === undefined
        ? undefined
        : new ClusterLink(
            deps.bus,
            this.#store,
            this.#clusterHost,
            this.#presence,
            this.#logger,
            settings.cluster,
            deps.metrics,
            this.#now,
          )
  }

  /** Starts the periodic jobs and, with a bus, joins the other nodes. */
  start(): void {
    this.#housekeeping.start()
    this.#cluster?.start()
  }

  /** Ends every session, commits everything pending (appends, then acks) and stops the jobs. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const sessions of [...this.#sessionsByClient.values()]) {
      for (const session of sessions) session.close()
    }
    this.#presence.close()
    await this.#committer.close()
    await this.#cluster?.stop()
    await this.#housekeeping.stop()
    await this.#cursors.flush()
    await this.#clients.flush()
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions (transports)

  /** Opens the session of one connection; see {@link EngineSession}. */
  openSession(init: SessionInit): EngineSession {
    const session = new EngineSession(
      this.#sessionHost,
      init.connectionId,
      init.principal,
      init.clientId,
      init.follower,
      init.onEnd,
    )
    index(this.#sessionsByUser, session.userId, session)
    index(this.#sessionsByClient, session.clientId, session)
    this.#sessionDisposers.set(session, this.#clients.connected(session.clientId))
    return session
  }

  // ---------------------------------------------------------------------------------------------
  // Authorization and admission (HTTP door; sessions use them through their host)

  /** Throws FORBIDDEN (or the hook's own error) unless `principal` may `action` `stream` (G8). */
  authorize(principal: Principal, stream: string, action: AuthorizeAction): Promise<void> {
    return this.#authorizer.check(principal, stream, action)
  }

  /** Whether `principal` may `action` `stream` (G8). */
  allows(principal: Principal, stream: string, action: AuthorizeAction): Promise<boolean> {
    return this.#authorizer.allows(principal, stream, action)
  }

  /**
   * Admits an HTTP append of `count` messages that was authorised already (`authorize(…,
   * 'publish')`, before the stream was even looked up): takes the publisher's rate.
   */
  admitAppend(publisher: Publisher, count: number): void {
    this.#admission.rate(publisher, count)
  }

  /** Refuses JSON text nested deeper than the limit (PAYLOAD_TOO_DEEP). */
  checkJson(text: string): void {
    this.#admission.checkJsonText(text)
  }

  // ---------------------------------------------------------------------------------------------
  // Streams and appends

  /**
   * Queues an append for the next group commit. The call enqueues synchronously, so appends made
   * in order commit in order. Resolves once committed (or rejected by validation). Admission is the
   * caller's: sessions and the HTTP door admit before they append.
   */
  append(request: Omit<AppendRequest, 'now'>): Promise<AppendResult> {
    if (this.#closed) {
      return Promise.reject(new SeqlineError(ErrorCode.SHUTTING_DOWN, 'server is shutting down'))
    }
    return this.#committer.append({ ...request, now: this.#now() })
  }

  /**
   * Server-side publish of one JSON value, with the same durability as a client's (G1): resolves
   * after commit. Creates the stream if needed. With a `producer`, a retry with the same seq is
   * recognised (G4) and answered with the first publish's offset.
   */
  async publish(
    stream: string,
    data: unknown,
    options: {
      readonly from?: string | null
      readonly producer?: { readonly id: string; readonly epoch: number; readonly seq: number }
    } = {},
  ): Promise<{ epoch: string; offset: number; duplicate: boolean }> {
    if (!isValidStreamName(stream)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    const payload = this.#admission.encodeJson(data)
    const result = await this.append({
      stream,
      payloads: [payload],
      from: options.from ?? null,
      producer: options.producer,
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
    })
    if (result.kind === 'rejected') {
      throw new SeqlineError(result.code, result.message, {
        details: result.expectedSeq === undefined ? undefined : { expectedSeq: result.expectedSeq },
      })
    }
    if (result.kind === 'duplicate') {
      return { epoch: result.epoch, offset: result.offset, duplicate: true }
    }
    return {
      epoch: result.epoch,
      offset: result.messages.at(-1)?.offset ?? result.head,
      duplicate: false,
    }
  }

  async createStream(input: Omit<CreateStreamInput, 'now'>): Promise<CreateStreamResult> {
    const result = await this.#store.createStream({ ...input, now: this.#now() })
    if (result.kind === 'created') {
      const { name, epoch, head, closed, contentType } = result.stream
      // Followers waiting for it (offset 0, no epoch yet) learn its epoch and content type.
      this.#followers.advance({ stream: name, epoch, head, closed, messages: [], contentType })
      if (head > 0) this.#cluster?.announce(name, epoch, head, closed)
    }
    return result
  }

  getStream(name: string): Promise<StreamRecord | undefined> {
    return this.#store.getStream(name)
  }

  read(name: string, after: number, limit: number): Promise<StoredMessage[]> {
    return this.#store.read(name, after, limit)
  }

  /** A JSON stream's messages after `after` as one JSON array; see `Store.readJsonArray`. */
  readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    return this.#store.readJsonArray(name, after, limit, maxBytes)
  }

  /** Marks a read or write for the sliding TTL (Durable Streams §5.1). */
  touchStream(name: string): Promise<void> {
    return this.#store.touchStream(name, this.#now())
  }

  /** Deletes a stream. Its followers, here and on every node, are told and unsubscribed. */
  async deleteStream(name: string): Promise<boolean> {
    // Internal streams (the webhook log) are outside the name pattern: no caller deletes them.
    if (!isValidStreamName(name)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    // Whether it is deleted because it expired (the expiry job, or a request that found it so).
    const record = this.#lifecycle === undefined ? undefined : await this.#store.getStream(name)
    const existed = await this.#store.deleteStream(name)
    this.#forget(name)
    if (existed) {
      this.#cluster?.deleted(name)
      const reason = record !== undefined && isExpired(record, this.#now()) ? 'expired' : 'deleted'
      await this.#report((lifecycle) => lifecycle.streamDeleted(name, reason))
    }
    return existed
  }

  /**
   * A live read of `stream` from `position` into `follower` (Durable Streams SSE and long-poll):
   * the same pump, window and high-water mark as a subscription. `start()` it once the caller is
   * ready for its events (they may come at once); stop it with `unfollow`.
   */
  async follow(
    record: StreamRecord,
    position: number,
    follower: Follower,
    events: ReaderEvents,
  ): Promise<StreamReader> {
    const { hub } = await this.#followers.open(record.name, record)
    return new StreamReader(hub, follower, this.#store, events, this.#pumpOptions, position)
  }

  unfollow(reader: StreamReader): void {
    reader.stop()
    this.#followers.release(reader.hub)
  }

  // ---------------------------------------------------------------------------------------------
  // Clients and cursors (G7)

  /** Registers a new client of `userId` (TOO_MANY_CLIENTS past the per-user limit). */
  async registerClient(userId: string): Promise<{ clientId: string; secret: string }> {
    const registered = await this.#clients.register(userId)
    await this.#report((lifecycle) => lifecycle.clientRegistered(userId, registered.clientId))
    return registered
  }

  /** Checks a client's owner and secret (CLIENT_UNKNOWN, FORBIDDEN). */
  verifyClient(userId: string, clientId: string, secret: string): Promise<ClientRecord> {
    return this.#clients.verify(userId, clientId, secret)
  }

  /** Checks a client's owner only. */
  ownClient(userId: string, clientId: string): Promise<ClientRecord> {
    return this.#clients.own(userId, clientId)
  }

  /** The client record, if it exists (any owner). */
  getClient(clientId: string): Promise<ClientRecord | undefined> {
    return this.#store.getClient(clientId)
  }

  /**
   * Gives a client a new secret. The connections that used the old one end at once, on every
   * node (CLIENT_REVOKED): a stolen secret stops working immediately.
   */
  async rotateClientSecret(userId: string, clientId: string): Promise<{ secret: string }> {
    const rotated = await this.#clients.rotateSecret(userId, clientId)
    this.disconnect({ client: clientId }, true, 'the client secret was rotated')
    return rotated
  }

  /** Deletes a client with its cursors; its live connections end on every node. */
  async forgetClient(userId: string, clientId: string): Promise<void> {
    const existed = await this.#clients.forget(userId, clientId)
    this.disconnect({ client: clientId }, true, 'the client was deleted')
    if (existed) {
      await this.#report((lifecycle) => lifecycle.clientForgotten(userId, clientId, 'forgotten'))
    }
  }

  /** Records a cumulative ack of `clientId` (who must be `principal`'s) after `read` is checked. */
  async ack(principal: Principal, clientId: string, stream: string, offset: number): Promise<void> {
    await this.#authorizer.check(principal, stream, 'read')
    await this.#cursors.ack(clientId, stream, offset)
  }

  cursorsOf(clientId: string): Promise<CursorRecord[]> {
    return this.#cursors.ofClient(clientId)
  }

  cursorsOfStream(stream: string): Promise<CursorRecord[]> {
    return this.#cursors.ofStream(stream)
  }

  // ---------------------------------------------------------------------------------------------
  // Presence, revocation

  /** One page of who is connected to `stream`, on every node. */
  presence(stream: string, after: string | undefined, limit: number): PresencePage {
    return this.#presence.page(stream, after, limit)
  }

  /**
   * Asks `authorize` again for `user`'s live subscriptions (of `stream`, or all) on every node and
   * ends those no longer allowed with FORBIDDEN; presence visibility is re-checked too. Call it
   * after taking a right away in your own `authorize`.
   */
  revoke(user: string, stream?: string): void {
    this.#revoked(user, stream)
    this.#cluster?.revoke(user, stream)
  }

  /**
   * Ends the connections of a client or a user on every node. `final`: their credentials are
   * revoked (CLIENT_REVOKED, close 4403, the SDK stops); otherwise they are told to go away and
   * may reconnect.
   */
  disconnect(target: { client?: string; user?: string }, final: boolean, reason?: string): number {
    const count = this.#disconnectHere(target, final, reason)
    this.#cluster?.disconnect(target, final)
    return count
  }

  // ---------------------------------------------------------------------------------------------
  // Housekeeping (exposed for operators' tools and tests)

  runRetention(): Promise<void> {
    return this.#housekeeping.runRetention()
  }

  runExpiry(): Promise<number> {
    return this.#housekeeping.runExpiry()
  }

  runClientGc(): Promise<number> {
    return this.#housekeeping.runClientGc()
  }

  flushCursors(): Promise<void> {
    return this.#cursors.flush()
  }

  /**
   * Marks every client connected to this node as seen now. Run more often than the `unread`
   * webhook delay, it keeps "last seen" of connected clients recent on every node, so that a
   * client unseen for the delay is one that is not connected anywhere.
   */
  touchConnectedClients(): Promise<void> {
    return this.#clients.touchConnected(this.#now())
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /** Tells the lifecycle listener; a failed report is logged, the operation stands. */
  async #report(tell: (lifecycle: EngineLifecycle) => Promise<void>): Promise<void> {
    if (this.#lifecycle === undefined) return
    try {
      await tell(this.#lifecycle)
    } catch (err) {
      this.#logger.error({ err }, 'lifecycle event not recorded')
    }
  }

  get #pumpOptions(): { pageSize: number; highWaterMark: number } {
    return {
      pageSize: this.#settings.delivery.pageSize,
      highWaterMark: this.#settings.delivery.highWaterMark,
    }
  }

  #committed(
    batch: readonly AppendRequest[],
    results: readonly AppendResult[],
    seconds: number,
  ): void {
    this.#metrics.commitLatency.observe(seconds)
    this.#metrics.commitBatchSize.observe(batch.length)
    // One announcement per stream per batch, with the batch's last (highest) head.
    const advanced = this.#cluster === undefined ? undefined : new Map<string, CommitEvent>()
    results.forEach((result, i) => {
      this.#metrics.publishes.inc({ result: result.kind })
      const request = batch[i]
      if (result.kind !== 'appended' || request === undefined) return
      const event: CommitEvent = {
        stream: request.stream,
        epoch: result.epoch,
        head: result.head,
        closed: result.closed,
        messages: result.messages,
        contentType: request.createIfMissing?.contentType ?? request.contentType,
      }
      advanced?.set(request.stream, event)
      try {
        this.#followers.advance(event)
      } catch (err) {
        this.#logger.error({ err, stream: request.stream }, 'fan-out failed')
      }
    })
    for (const e of advanced?.values() ?? []) {
      this.#cluster?.announce(e.stream, e.epoch, e.head, e.closed)
    }
  }

  /** Tells this node's followers of `name` that it is gone (deleted here or elsewhere). */
  #forget(name: string): void {
    for (const following of this.#followers.remove(name)) {
      if (following instanceof Subscription) {
        this.#sessionOf(following)?.endSubscription(
          name,
          ErrorCode.STREAM_NOT_FOUND,
          'the stream was deleted',
        )
      } else if (following instanceof StreamReader) {
        following.stop()
        following.events.ended()
      }
    }
  }

  #sessionOf(subscription: Subscription): EngineSession | undefined {
    for (const session of this.#sessionsByClient.get(subscription.subscriber.clientId) ?? []) {
      if (session.subscriptions.get(subscription.stream) === subscription) return session
    }
    return undefined
  }

  /** Subscribes a session (see SessionHost): authorised every time, resume included (G8). */
  async #subscribe(
    session: EngineSession,
    stream: string,
    from: StartFrom | undefined,
  ): Promise<Subscription> {
    const principal = session.principal
    await this.#authorizer.check(principal, stream, 'read')
    const sees = await this.#authorizer.allows(principal, stream, 'presence')
    const record = await this.#store.getStream(stream)
    // A soft-deleted stream is a tombstone kept for its forks (Durable Streams §4.2).
    if (record?.softDeleted === true)
      throw new SeqlineError(ErrorCode.GONE, 'the stream was deleted')
    let start = from
    if (start === undefined) {
      // Without a position: resume from the client's cursor in the current epoch, else the head.
      const cursor =
        record === undefined ? undefined : await this.#cursors.of(session.clientId, stream)
      start =
        cursor !== undefined && cursor.epoch === record?.epoch
          ? { epoch: cursor.epoch, offset: cursor.offset }
          : 'latest'
    }
    const { hub, at } = await this.#followers.open(stream, record)
    const decision =
      at.epoch === NO_EPOCH
        ? ({
            kind: 'replay',
            position: 0,
            recovered: typeof start === 'object' && start.offset === 0,
          } as const)
        : resolveStart(at, start)
    const position = decision.kind === 'replay' ? decision.position : at.head
    const subscription = new Subscription(
      stream,
      { userId: session.userId, clientId: session.clientId, follower: session.follower },
      hub,
      this.#store,
      this.#subscriptionObserver,
      this.#pumpOptions,
      position,
      decision.kind === 'replay' && decision.recovered,
      sees,
    )
    if (decision.kind === 'reset') subscription.sendReset(decision.reason, at.head, at.tail)
    this.#presence.join(subscription)
    subscription.start()
    return subscription
  }

  #unsubscribe(subscription: Subscription): void {
    subscription.stop()
    this.#presence.leave(subscription)
    this.#followers.release(subscription.hub)
  }

  /** Re-asks `authorize` for a user's subscriptions on this node (after a revocation). */
  #revoked(user: string, stream: string | undefined): void {
    this.#authorizer.forget(user)
    for (const session of this.#sessionsByUser.get(user) ?? []) {
      for (const subscription of [...session.subscriptions.values()]) {
        if (stream !== undefined && subscription.stream !== stream) continue
        void this.#recheck(session, subscription)
      }
    }
  }

  async #recheck(session: EngineSession, subscription: Subscription): Promise<void> {
    const { stream } = subscription
    try {
      const reads = await this.#authorizer.allows(session.principal, stream, 'read')
      if (!reads) {
        session.endSubscription(
          stream,
          ErrorCode.FORBIDDEN,
          `not allowed to read ${stream} any more`,
        )
        return
      }
      const sees = await this.#authorizer.allows(session.principal, stream, 'presence')
      if (sees !== subscription.presence) this.#presence.setVisible(subscription, sees)
    } catch (err) {
      const code = err instanceof SeqlineError ? err.code : ErrorCode.FORBIDDEN
      session.endSubscription(stream, code, 'authorization could not be confirmed')
    }
  }

  #disconnectHere(
    target: { client?: string; user?: string },
    final: boolean,
    reason?: string,
  ): number {
    const sessions = new Set<EngineSession>()
    if (target.client !== undefined) {
      for (const s of this.#sessionsByClient.get(target.client) ?? []) sessions.add(s)
    }
    if (target.user !== undefined) {
      for (const s of this.#sessionsByUser.get(target.user) ?? []) sessions.add(s)
    }
    const end: SessionEnd = final
      ? {
          code: ErrorCode.CLIENT_REVOKED,
          message: reason ?? 'the credentials of this connection were revoked',
          final,
        }
      : { code: ErrorCode.SHUTTING_DOWN, message: reason ?? 'disconnected by the server', final }
    for (const session of sessions) session.terminate(end)
    return sessions.size
  }

  readonly #sessionHost: SessionHost = {
    subscribe: (session, stream, from) => this.#subscribe(session, stream, from),
    unsubscribe: (subscription) => this.#unsubscribe(subscription),
    admitPublish: async (session, stream, data) => {
      const payload = this.#admission.encodeJson(data)
      await this.#admission.publish(
        { principal: session.principal, rateKey: session.clientId },
        stream,
      )
      return payload
    },
    append: (request) => this.append(request),
    ack: async (session, stream, offset) => {
      await this.#authorizer.check(session.principal, stream, 'read')
      await this.#cursors.ack(session.clientId, stream, offset)
    },
    signal: async (session, stream, data) => {
      this.#admission.encodeJson(data)
      await this.#admission.signal(
        { principal: session.principal, rateKey: session.clientId },
        stream,
      )
      // Subscribers on other nodes get it through the bus (the count is this node's only).
      this.#cluster?.signal(stream, session.userId, data)
      this.#metrics.signals.inc()
      return this.#fanOutSignal(stream, session.userId, data, session.follower)
    },
    closed: (session) => {
      unindex(this.#sessionsByUser, session.userId, session)
      unindex(this.#sessionsByClient, session.clientId, session)
      this.#sessionDisposers.get(session)?.()
      this.#sessionDisposers.delete(session)
    },
    maxStreamsPerSession: () => this.#settings.limits.maxStreamsPerConnection,
  }

  /** Sends a signal to this node's followers of `stream` (not the sender), skipping slow ones. */
  #fanOutSignal(stream: string, from: string, data: unknown, except?: Follower): number {
    const hub = this.#followers.get(stream)
    if (hub === undefined) return 0
    const highWaterMark = this.#settings.delivery.highWaterMark
    let sent = 0
    for (const following of hub.followings) {
      const follower = following.follower
      if (follower === except || !(following instanceof Subscription)) continue
      // Ephemeral: dropped for a follower that is not keeping up (G6).
      if (follower.bufferedAmount > highWaterMark) continue
      follower.event({ kind: 'signal', stream, from, data })
      sent += 1
    }
    return sent
  }

  readonly #subscriptionObserver: SubscriptionObserver = {
    delivered: (count) => this.#metrics.deliveries.inc(count),
    replayed: (count) => this.#metrics.replayLag.observe(count),
    reset: (reason) => this.#metrics.resets.inc({ reason }),
    failed: (subscription, err) => {
      this.#logger.error({ err, stream: subscription.stream }, 'subscription failed')
      this.#sessionOf(subscription)?.endSubscription(
        subscription.stream,
        ErrorCode.INTERNAL,
        'subscription failed; subscribe again',
      )
    },
  }

  /** What the cluster link sees of this engine (multi-node, `bus`). */
  readonly #clusterHost: ClusterHost = {
    hubPosition: (stream) => {
      const hub = this.#followers.get(stream)
      return hub === undefined ? undefined : { epoch: hub.epoch, head: hub.head }
    },
    followedStreams: () => [...this.#followers.streams()],
    advance: (event) => this.#followers.advance(event),
    forget: (stream) => this.#forget(stream),
    deliverSignal: (stream, from, data) => {
      this.#fanOutSignal(stream, from, data)
    },
    revoked: (user, stream) => this.#revoked(user, stream),
    disconnect: (target, final) => {
      this.#disconnectHere(target, final)
    },
  }
}

function index<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key)
  if (set === undefined) map.set(key, (set = new Set()))
  set.add(value)
}

function unindex<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
