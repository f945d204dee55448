import { ErrorCode, SeqlineError, type StartFrom } from '@seqline/protocol'
import type { Principal } from '../auth/authenticator.js'
import type { AppendRequest, AppendResult } from '../store/store.js'
import { JSON_CONTENT_TYPE } from '../store/store.js'
import type { Follower } from './follower.js'
import type { Subscription } from './subscription.js'

/** Why the server ends a session on its own (revocation): the transport closes with this. */
export interface SessionEnd {
  readonly code: ErrorCode
  readonly message: string
  /** Reconnecting is useless (credentials revoked) as opposed to welcome (a disconnect). */
  readonly final: boolean
}

/** How the transport ends its connection when the server ends the session on its own. */
export interface SessionEnding {
  ended(end: SessionEnd): void
}

/** What a session needs of its engine (implemented by `Engine`, kept narrow on purpose). */
export interface SessionHost {
  subscribe(
    session: EngineSession,
    stream: string,
    from: StartFrom | undefined,
  ): Promise<Subscription>
  unsubscribe(subscription: Subscription): void
  admitPublish(session: EngineSession, stream: string, data: unknown): Promise<Uint8Array>
  append(request: Omit<AppendRequest, 'now'>): Promise<AppendResult>
  ack(session: EngineSession, stream: string, offset: number): Promise<void>
  signal(session: EngineSession, stream: string, data: unknown): Promise<number>
  closed(session: EngineSession): void
  /** The session's principal changed: what it may read or see is decided again. */
  reauthenticated(session: EngineSession): void
  maxStreamsPerSession(): number
}

/** A publish frame's fields. */
export interface PublishRequest {
  readonly stream: string
  readonly epoch: number
  readonly seq: number
  readonly data: unknown
}

/**
 * One connection of one client of one user (G7), as the engine sees it, whatever its transport:
 * the engine creates it (`Engine.openSession`) and alone owns its subscriptions — the transport
 * only asks. Every request is authorised here or below (G8), with the principal of the session's
 * current token.
 */
export class EngineSession {
  /**
   * Streams followed, replaced (never changed in place) on every change: a session follows one
   * stream or a few, and a room of thousands keeps one of these per member — an exact-size array
   * costs a fraction of a Map (`maxStreamsPerSession` bounds the scans).
   */
  #subscriptions: readonly Subscription[] = []
  #principal: Principal
  #closed = false

  constructor(
    private readonly host: SessionHost,
    readonly connectionId: string,
    principal: Principal,
    readonly clientId: string,
    readonly follower: Follower,
    /** How the transport ends the connection when the server revokes it. */
    private readonly ending: SessionEnding,
  ) {
    this.#principal = principal
  }

  get principal(): Principal {
    return this.#principal
  }

  get userId(): string {
    return this.#principal.userId
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Streams this session follows (a snapshot: later changes do not alter it). */
  get subscriptions(): readonly Subscription[] {
    return this.#subscriptions
  }

  /** The subscription to `stream`, if the session follows it. */
  subscription(stream: string): Subscription | undefined {
    return this.#subscriptions.find((s) => s.stream === stream)
  }

  /**
   * Follows `stream` from `from` (see `Engine` for resume, reset and presence). A second
   * subscribe to the same stream restarts it from the new position: the old pump stops before the
   * new one starts, so nothing is sent twice.
   */
  async subscribe(stream: string, from?: StartFrom): Promise<void> {
    this.#assertOpen()
    const existing = this.subscription(stream)
    if (existing === undefined && this.#subscriptions.length >= this.host.maxStreamsPerSession()) {
      throw new SeqlineError(
        ErrorCode.TOO_MANY_STREAMS,
        `a connection may follow at most ${this.host.maxStreamsPerSession()} streams`,
      )
    }
    if (existing !== undefined) this.#end(existing)
    const subscription = await this.host.subscribe(this, stream, from)
    if (this.#closed || this.subscription(stream) !== undefined) {
      // Closed, or subscribed again, while we awaited the store.
      this.host.unsubscribe(subscription)
      return
    }
    this.#subscriptions = this.#subscriptions.concat([subscription])
  }

  unsubscribe(stream: string): void {
    const subscription = this.subscription(stream)
    if (subscription === undefined) {
      throw new SeqlineError(ErrorCode.NOT_SUBSCRIBED, `not subscribed to ${stream}`)
    }
    this.#end(subscription)
  }

  /**
   * Admits a publish (size, depth, authorization, rate) and queues it for the next group commit.
   * Resolves once admitted, with the commit still to come, so a connection handles its frames in
   * order without waiting for each commit.
   */
  async publish(request: PublishRequest): Promise<{ readonly committed: Promise<AppendResult> }> {
    this.#assertOpen()
    const payload = await this.host.admitPublish(this, request.stream, request.data)
    const committed = this.host.append({
      stream: request.stream,
      payloads: [payload],
      from: this.userId,
      producer: { id: this.clientId, epoch: request.epoch, seq: request.seq },
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
    })
    return { committed }
  }

  ack(stream: string, offset: number): Promise<void> {
    this.#assertOpen()
    return this.host.ack(this, stream, offset)
  }

  signal(stream: string, data: unknown): Promise<number> {
    this.#assertOpen()
    return this.host.signal(this, stream, data)
  }

  /**
   * A fresh token of the same user (`auth`): later decisions use its claims and expiry, and live
   * subscriptions it no longer allows end with FORBIDDEN.
   */
  reauthenticate(principal: Principal): void {
    if (principal.userId !== this.userId) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'a connection cannot change its user')
    }
    this.#principal = principal
    // A token with fewer grants narrows the live subscriptions too, not only future requests.
    this.host.reauthenticated(this)
  }

  /** Ends one subscription on the server's side, telling the client why (revocation, deletion). */
  endSubscription(stream: string, code: ErrorCode, message: string): void {
    const subscription = this.subscription(stream)
    if (subscription === undefined) return
    this.#end(subscription)
    this.follower.event({ kind: 'error', stream, code, message })
  }

  /** The server ends the whole session (credentials revoked, user disconnected). */
  terminate(end: SessionEnd): void {
    if (this.#closed) return
    this.ending.ended(end)
    this.close()
  }

  /** Ends every subscription and leaves presence. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const subscriptions = this.#subscriptions
    this.#subscriptions = []
    for (const subscription of subscriptions) this.host.unsubscribe(subscription)
    this.host.closed(this)
  }

  /** Forgets a subscription the engine ended (its pump failed). */
  dropped(subscription: Subscription): void {
    this.#forget(subscription)
  }

  #end(subscription: Subscription): void {
    this.#forget(subscription)
    this.host.unsubscribe(subscription)
  }

  #forget(subscription: Subscription): void {
    this.#subscriptions = this.#subscriptions.filter((s) => s !== subscription)
  }

  #assertOpen(): void {
    if (this.#closed) throw new SeqlineError(ErrorCode.NOT_FOUND, 'the connection is closed')
  }
}
