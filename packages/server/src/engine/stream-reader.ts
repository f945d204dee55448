import type { Store } from '../store/store.js'
import { CursorPump, type PumpEvents, type PumpOptions } from './cursor-pump.js'
import type { Follower } from './follower.js'
import type { Following, StreamHub } from './stream-hub.js'

/** What a live reader is told besides its pump's events. */
export interface ReaderEvents extends PumpEvents {
  /** The stream was deleted (here or on another node); the reader has stopped. */
  ended(): void
  /** The stream advanced (a commit, its closure): the reader may check `hub.closed`. */
  advanced(): void
}

/**
 * A live read of one stream outside any session — a Durable Streams SSE or long-poll request:
 * a cursor pump into the request's follower, on the same hub, window and high-water mark as the
 * WebSocket subscriptions, and holding retention back like them while it is behind.
 */
export class StreamReader implements Following {
  readonly pump: CursorPump
  /** Still counted in `hub.joining` (from StreamFollowers.open until start or stop). */
  #joining = true

  constructor(
    readonly hub: StreamHub,
    readonly follower: Follower,
    store: Store,
    readonly events: ReaderEvents,
    options: PumpOptions,
    position: number,
  ) {
    this.pump = new CursorPump(hub, follower, store, events, options, position)
  }

  get stream(): string {
    return this.hub.name
  }

  get needsFrom(): number {
    return this.pump.position + 1
  }

  wake(): void {
    this.pump.wake()
    this.events.advanced()
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
