import type { StartFrom } from '@seqline/protocol'
import type { Store } from '../store/store.js'
import { CursorPump, type PumpEvents, type PumpOptions } from './cursor-pump.js'
import type { FrameSink } from './frame-sink.js'
import { encodeFrame } from './message-frame.js'
import type { StreamHub } from './stream-hub.js'

/** One connection of one client of one user (G7). */
export interface Session {
  readonly connectionId: string
  readonly userId: string
  readonly clientId: string
  readonly sink: FrameSink
  /** Claims of the principal that authenticated the connection, for `authorize`. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}

/** What a subscription reports to the engine (metrics, logs, cleanup). */
export interface SubscriptionObserver {
  delivered(count: number): void
  replayed(count: number): void
  reset(reason: string): void
  failed(subscription: Subscription, err: unknown): void
}

/**
 * One (connection, stream) subscription: a cursor pump plus the protocol around it — `caughtUp`
 * once the replay is done, `reset` when history the client needs is gone (G3), after which the
 * subscription continues live from the head.
 */
export class Subscription implements PumpEvents {
  readonly pump: CursorPump
  #replayed = 0
  #inReplay = true

  constructor(
    readonly stream: string,
    readonly session: Session,
    readonly hub: StreamHub,
    private readonly store: Store,
    private readonly observer: SubscriptionObserver,
    options: PumpOptions,
    start: number,
    /** Whether the requested position was resumed (reported on `caughtUp`). */
    private readonly recovered: boolean,
    /** What the client asked for, kept for logs. */
    readonly from: StartFrom | undefined,
  ) {
    this.pump = new CursorPump(hub, session.sink, store, this, options, start)
  }

  caughtUp(head: number): void {
    this.#inReplay = false
    this.observer.replayed(this.#replayed)
    this.session.sink.send(
      encodeFrame({
        t: 'caughtUp',
        stream: this.stream,
        epoch: this.hub.epoch,
        head,
        recovered: this.recovered,
      }),
    )
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
  sendReset(reason: 'truncated' | 'epoch' | 'ahead', head: number, tail: number): void {
    this.observer.reset(reason)
    this.session.sink.send(
      encodeFrame({ t: 'reset', stream: this.stream, reason, epoch: this.hub.epoch, head, tail }),
    )
  }

  /** First offset this subscription still needs (protects it from retention while behind). */
  get needsFrom(): number {
    return this.pump.position + 1
  }

  start(): void {
    this.hub.members.add(this.pump)
    this.pump.wake()
  }

  stop(): void {
    this.pump.stop()
    this.hub.members.delete(this.pump)
  }
}
