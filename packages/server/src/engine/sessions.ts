import { ErrorCode, SeqlineError, type StartFrom } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticator.js'
import type { Authorizer } from '../auth/authorizer.js'
import type { Metrics } from '../observability/metrics.js'
import type { Store } from '../store/store.js'
import type { Admission } from './admission.js'
import type { ClientDirectory } from './client-directory.js'
import type { ClusterLink } from './cluster-link.js'
import type { CursorLog } from './cursor-log.js'
import type { PumpOptions } from './cursor-pump.js'
import type { DeliveryEvent, Follower } from './follower.js'
import type { Presence } from './presence/presence.js'
import { Multimap } from './multimap.js'
import { resolveStart } from './resolve-start.js'
import { EngineSession, type SessionEnd, type SessionEnding, type SessionHost } from './session.js'
import { NO_EPOCH, type StreamFollowers } from './stream-followers.js'
import { StreamReader } from './stream-reader.js'
import type { Streams } from './streams.js'
import { Subscription, type SubscriptionObserver } from './subscription.js'

/** What a transport passes to open a session. */
export interface SessionInit {
  readonly connectionId: string
  readonly principal: Principal
  readonly clientId: string
  readonly follower: Follower
  /** How the transport ends the connection when the server revokes it. */
  readonly ending: SessionEnding
}

/** What `Sessions` is built from. */
export interface SessionsDeps {
  readonly store: Store
  readonly streams: Streams
  readonly followers: StreamFollowers
  readonly presence: Presence
  readonly authorizer: Authorizer
  readonly admission: Admission
  readonly cursors: CursorLog
  readonly clients: ClientDirectory
  readonly logger: Logger
  readonly metrics: Metrics
  readonly pump: PumpOptions
  readonly maxStreamsPerSession: number
  /** The other nodes (multi-node): signals, revocations and disconnects travel to them. */
  readonly cluster: () => ClusterLink | undefined
}

/**
 * The live sessions of this node and — the engine's sole owner of them — their subscriptions
 * (G7, G8): a subscribe is authorised every time, resume included; it resumes, replays or resets
 * (G3) and joins presence. Sessions are indexed by user and by client, so that a revocation
 * (`revoke`: ask `authorize` again) or a disconnect (a rotated secret, a deleted client, the
 * backend's call) finds them; both reach the other nodes through the cluster link.
 */
export class Sessions {
  readonly #byUser = new Multimap<string, EngineSession>()
  readonly #byClient = new Multimap<string, EngineSession>()

  constructor(private readonly deps: SessionsDeps) {}

  /** Opens the session of one connection; see {@link EngineSession}. */
  open(init: SessionInit): EngineSession {
    const session = new EngineSession(
      this.#host,
      init.connectionId,
      init.principal,
      init.clientId,
      init.follower,
      init.ending,
    )
    this.#byUser.add(session.userId, session)
    this.#byClient.add(session.clientId, session)
    this.deps.clients.connected(session.clientId)
    return session
  }

  /**
   * Asks `authorize` again for `user`'s live subscriptions (of `stream`, or all) on every node and
   * ends those no longer allowed with FORBIDDEN; presence visibility is re-checked too.
   */
  revoke(user: string, stream?: string): void {
    this.revokedHere(user, stream)
    this.deps.cluster()?.revoke(user, stream)
  }

  /**
   * Ends the connections of a client or a user on every node. `final`: their credentials are
   * revoked (CLIENT_REVOKED, close 4403, the SDK stops); otherwise they are told to go away and
   * may reconnect. Returns how many were open on this node.
   */
  disconnect(target: { client?: string; user?: string }, final: boolean, reason?: string): number {
    const count = this.disconnectHere(target, final, reason)
    this.deps.cluster()?.disconnect(target, final)
    return count
  }

  /** A revocation decided here or on another node, applied to this node's sessions. */
  revokedHere(user: string, stream: string | undefined): void {
    this.deps.authorizer.forget(user)
    for (const session of this.#byUser.get(user)) {
      for (const subscription of session.subscriptions) {
        if (stream !== undefined && subscription.stream !== stream) continue
        void this.#recheck(session, subscription)
      }
    }
  }

  /** A disconnect decided here or on another node, applied to this node's sessions. */
  disconnectHere(
    target: { client?: string; user?: string },
    final: boolean,
    reason?: string,
  ): number {
    const sessions = new Set<EngineSession>()
    if (target.client !== undefined) {
      for (const s of this.#byClient.get(target.client)) sessions.add(s)
    }
    if (target.user !== undefined) {
      for (const s of this.#byUser.get(target.user)) sessions.add(s)
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

  /** A stream is gone: its subscribers get STREAM_NOT_FOUND, its live readers end. */
  streamGone(stream: string): void {
    for (const following of this.deps.followers.remove(stream)) {
      if (following instanceof Subscription) {
        this.#sessionOf(following)?.endSubscription(
          stream,
          ErrorCode.STREAM_NOT_FOUND,
          'the stream was deleted',
        )
      } else if (following instanceof StreamReader) {
        following.stop()
        following.events.ended()
      }
    }
  }

  /** Sends a signal to this node's subscribers of `stream` (not `except`), skipping slow ones. */
  fanOutSignal(stream: string, from: string, data: unknown, except?: Follower): number {
    const hub = this.deps.followers.get(stream)
    if (hub === undefined) return 0
    const highWaterMark = this.deps.pump.highWaterMark
    // One event object for every subscriber: transports encode it once (event-frame.ts).
    const event: DeliveryEvent = { kind: 'signal', stream, from, data }
    let sent = 0
    for (const following of hub.followings) {
      const follower = following.follower
      if (follower === except || !(following instanceof Subscription)) continue
      // Ephemeral: dropped for a follower that is not keeping up (G6).
      if (follower.bufferedAmount > highWaterMark) continue
      follower.event(event)
      sent += 1
    }
    return sent
  }

  /** Ends every session (shutdown). */
  closeAll(): void {
    for (const session of this.#byClient.values()) session.close()
  }

  /** Subscribes a session: authorised every time, resume included (G8). */
  async #subscribe(
    session: EngineSession,
    stream: string,
    from: StartFrom | undefined,
  ): Promise<Subscription> {
    const { authorizer, store, cursors, followers, presence } = this.deps
    const principal = session.principal
    await authorizer.check(principal, stream, 'read')
    const sees = await authorizer.allows(principal, stream, 'presence')
    const record = await store.getStream(stream)
    // A soft-deleted stream is a tombstone kept for its forks (Durable Streams §4.2).
    if (record?.softDeleted === true) {
      throw new SeqlineError(ErrorCode.GONE, 'the stream was deleted')
    }
    let start = from
    if (start === undefined) {
      // Without a position: resume from the client's cursor in the current epoch, else the head.
      const cursor = record === undefined ? undefined : await cursors.of(session.clientId, stream)
      start =
        cursor !== undefined && cursor.epoch === record?.epoch
          ? { epoch: cursor.epoch, offset: cursor.offset }
          : 'latest'
    }
    // A subscribe never creates the stream (F12): a follower of a missing one waits at offset 0.
    const { hub, at } = await followers.open(stream, record)
    let subscription: Subscription | undefined
    try {
      const decision =
        at.epoch === NO_EPOCH
          ? ({
              kind: 'replay',
              position: 0,
              recovered: typeof start === 'object' && start.offset === 0,
            } as const)
          : resolveStart(at, start)
      const position = decision.kind === 'replay' ? decision.position : at.head
      subscription = new Subscription(
        // The hub's copy of the name: one string per stream, not one per subscriber.
        hub.name,
        // The session is the subscriber: its user, client and follower.
        session,
        hub,
        store,
        this.#observer,
        this.deps.pump,
        position,
        decision.kind === 'replay' && decision.recovered,
        sees,
      )
      if (decision.kind === 'reset') subscription.sendReset(decision.reason, at.head, at.tail)
      presence.join(subscription)
      subscription.start()
      return subscription
    } catch (err) {
      // Whatever failed, the hub must not stay pinned for a follower that never came.
      if (subscription === undefined) hub.joining -= 1
      else subscription.stop()
      followers.release(hub)
      throw err
    }
  }

  #unsubscribe(subscription: Subscription): void {
    subscription.stop()
    this.deps.presence.leave(subscription)
    this.deps.followers.release(subscription.hub)
  }

  async #recheck(session: EngineSession, subscription: Subscription): Promise<void> {
    const { stream } = subscription
    const { authorizer, presence } = this.deps
    try {
      if (!(await authorizer.allows(session.principal, stream, 'read'))) {
        session.endSubscription(
          stream,
          ErrorCode.FORBIDDEN,
          `not allowed to read ${stream} any more`,
        )
        return
      }
      const sees = await authorizer.allows(session.principal, stream, 'presence')
      if (sees !== subscription.presence) presence.setVisible(subscription, sees)
    } catch (err) {
      const code = err instanceof SeqlineError ? err.code : ErrorCode.FORBIDDEN
      session.endSubscription(stream, code, 'authorization could not be confirmed')
    }
  }

  #sessionOf(subscription: Subscription): EngineSession | undefined {
    for (const session of this.#byClient.get(subscription.subscriber.clientId)) {
      if (session.subscription(subscription.stream) === subscription) return session
    }
    return undefined
  }

  readonly #host: SessionHost = {
    subscribe: (session, stream, from) => this.#subscribe(session, stream, from),
    unsubscribe: (subscription) => this.#unsubscribe(subscription),
    admitPublish: async (session, stream, data) => {
      const payload = this.deps.admission.encodeJson(data)
      await this.deps.admission.publish(
        { principal: session.principal, rateKey: session.clientId },
        stream,
      )
      return payload
    },
    append: (request) => this.deps.streams.append(request),
    ack: async (session, stream, offset) => {
      await this.deps.authorizer.check(session.principal, stream, 'read')
      await this.deps.cursors.ack(session.clientId, stream, offset)
    },
    signal: async (session, stream, data) => {
      const { admission, metrics } = this.deps
      admission.encodeJson(data)
      await admission.signal({ principal: session.principal, rateKey: session.clientId }, stream)
      // Subscribers on other nodes get it through the bus (the count is this node's only).
      this.deps.cluster()?.signal(stream, session.userId, data)
      metrics.signals.inc()
      return this.fanOutSignal(stream, session.userId, data, session.follower)
    },
    closed: (session) => {
      this.#byUser.delete(session.userId, session)
      this.#byClient.delete(session.clientId, session)
      this.deps.clients.disconnected(session.clientId)
    },
    reauthenticated: (session) => {
      for (const subscription of session.subscriptions) {
        void this.#recheck(session, subscription)
      }
    },
    maxStreamsPerSession: () => this.deps.maxStreamsPerSession,
  }

  readonly #observer: SubscriptionObserver = {
    delivered: (count) => this.deps.metrics.deliveries.inc(count),
    replayed: (count) => this.deps.metrics.replayLag.observe(count),
    reset: (reason) => this.deps.metrics.resets.inc({ reason }),
    failed: (subscription, err) => {
      this.deps.logger.error({ err, stream: subscription.stream }, 'subscription failed')
      this.#sessionOf(subscription)?.endSubscription(
        subscription.stream,
        ErrorCode.INTERNAL,
        'subscription failed; subscribe again',
      )
    },
  }
}
