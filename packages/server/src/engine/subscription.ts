import type { ResetReason } from '@seqline/protocol'
import type { Store } from '../store/store.js'
import { CursorPump, type PumpEvents, type PumpOptions } from './cursor-pump.js'
import type { Follower } from './follower.js'
import type { Following, StreamHub } from './stream-hub.js'
import type { Listing } from './presence/presence.js'

/** What a subscription reports to the engine (metrics, logs, cleanup). */
export interface SubscriptionObserver {
  delivered(count: number): void
  replayed(count: number): void
  reset(reason: ResetReason): void
  failed(subscription: Subscription, err: unknown): void
}

/** Who subscribed: the session's identity, as the subscription needs it. */
export interface Subscriber {
  readonly userId: string
  readonly clientId: string
  readonly follower: Follower
}

/**
 * One (session, stream) subscription: a cursor pump plus the protocol around it — `caughtUp`
 * once the replay is done, `reset` when history the client needs is gone (G3), after which the
 * subscription continues live from the head. Owned by the engine's session alone.
 */
export class Subscription implements Following, PumpEvents {
  readonly pump: CursorPump
  /** Still counted in `hub.joining` (from StreamFollowers.open until start or stop). */
  #joining = true
  /** Whether this subscriber may see presence (asked once per subscribe; revocation re-asks). */
  presence: boolean
  /** Presence frames were skipped while the follower was above its high-water mark. */
  presenceStale = false
  /** The presence listing this subscriber knows exactly (see PresenceMember). */
  presenceView: Listing | undefined = undefined
  #replayed = 0
  #inReplay = true

  constructor(
    readonly stream: string,
    readonly subscriber: Subscriber,
    readonly hub: StreamHub,
    private readonly store: Store,
    private readonly observer: SubscriptionObserver,
    options: PumpOptions,
    start: number,
    /** Whether the requested position was resumed (reported on `caughtUp`). */
    private readonly recovered: boolean,
    presence: boolean,
  ) {
    this.presence = presence
    this.pump = new CursorPump(hub, subscriber.follower, store, this, options, start)
  }

  get follower(): Follower {
    return this.subscriber.follower
  }

  /** First offset this subscription still needs (protects it from retention while behind). */
  get needsFrom(): number {
    return this.pump.position + 1
  }

  wake(): void {
    this.pump.wake()
  }

  caughtUp(head: number): void {
    this.#inReplay = false
    this.observer.replayed(this.#replayed)
    this.follower.event({
      kind: 'caughtUp',
      stream: this.stream,
      epoch: this.hub.epoch,
      head,
      recovered: this.recovered,
    })
  }

  async truncated(position: number): Promise<void> {
    const record = await this.store.getStream(this.stream)
    const head = Math.max(record?.head ?? this.hub.head, this.hub.head)
    this.sendReset('truncated', head, record?.tail ?? head + 1)
    this.pump.jumpTo(Math.max(head, position))
  }

  delivered(count: number): void {
    if (this.#inReplay) this.#replayed += count
    this.observer.delivered(count)
  }

  failed(err: unknown): void {
    this.observer.failed(this, err)
  }

  /** Tells the client its position cannot be resumed; the subscription goes on from `head`. */
  sendReset(reason: ResetReason, head: number, tail: number): void {
    this.observer.reset(reason)
    this.follower.event({
      kind: 'reset',
      stream: this.stream,
      reason,
      epoch: this.hub.epoch,
      head,
      tail,
    })
  }

  start(): void {
    this.#joined()
    this.hub.followings.add(this)
    this.pump.wake()
  }

  stop(): void {
    this.#joined()
    this.pump.stop()
    this.hub.followings.delete(this)
  }

  #joined(): void {
    if (!this.#joining) return
    this.#joining = false
    this.hub.joining -= 1
  }
}
