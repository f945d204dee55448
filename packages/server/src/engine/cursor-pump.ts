import type { Store } from '../store/store.js'
import type { Follower } from './follower.js'
import type { StreamHub } from './stream-hub.js'

/** What a pump reports back to its owner. */
export interface PumpEvents {
  /** Every message up to `head` has been written; reported once per pump. */
  caughtUp(head: number): void
  /** Messages the pump needed were trimmed while it was behind: the history has a hole. */
  truncated(position: number): Promise<void>
  /** `count` messages were written. */
  delivered(count: number): void
  /** Reading the store failed; the pump has stopped. */
  failed(err: unknown): void
}

export interface PumpOptions {
  /** Messages read from the store per query while catching up. */
  readonly pageSize: number
  /**
   * Payload bytes read from the store per query while catching up (past the first message, which
   * is read whatever its size): a reader far behind on a stream of large messages holds one page
   * of them, not `pageSize`.
   */
  readonly pageBytes: number
  /** Bytes buffered on the follower above which the pump stops writing until it drains. */
  readonly highWaterMark: number
}

/**
 * The cursor pump of one follower of one stream (DESIGN §3): it owns a position and, whenever the
 * stream advances or the follower drains, writes the next messages. It takes them from the hub's
 * window when it can and from the store when it is behind — live delivery and catch-up are the
 * same loop. Above the high-water mark it stops writing and waits for the follower to drain, so a
 * slow consumer costs a position, not a buffer (G6). Every transport is fed by this one loop.
 */
export class CursorPump {
  #running = false
  #stopped = false
  #caughtUp = false

  constructor(
    private readonly hub: StreamHub,
    private readonly follower: Follower,
    private readonly store: Store,
    private readonly events: PumpEvents,
    private readonly options: PumpOptions,
    /** Last offset written to the follower. */
    public position: number,
  ) {}

  get stopped(): boolean {
    return this.#stopped
  }

  wake(): void {
    if (!this.#running && !this.#stopped) void this.#run()
  }

  stop(): void {
    this.#stopped = true
  }

  /** Moves the pump to a new position (after a reset). */
  jumpTo(position: number): void {
    this.position = position
  }

  async #run(): Promise<void> {
    this.#running = true
    const { follower, hub, options } = this
    try {
      while (!this.#stopped && !follower.closed) {
        if (this.position >= hub.head) {
          if (!this.#caughtUp) {
            this.#caughtUp = true
            this.events.caughtUp(this.position)
          }
          return
        }
        if (follower.bufferedAmount > options.highWaterMark) {
          await follower.whenDrained()
          continue
        }
        let batch = hub.recentAfter(this.position, options.pageSize)
        if (batch === undefined) {
          const epoch = hub.epoch
          const stored = await this.store.read(
            hub.name,
            this.position,
            options.pageSize,
            options.pageBytes,
          )
          // The stream may have been recreated, or the pump stopped, while we awaited the store.
          if (hub.epoch !== epoch || this.#stopped) continue
          batch = hub.wrap(stored)
        }
        const first = batch[0]
        if (first === undefined || first.offset !== this.position + 1) {
          // Retention trimmed what we still had to send. Never skip silently (G3).
          await this.events.truncated(this.position)
          continue
        }
        let sent = 0
        follower.batch(() => {
          for (const message of batch) {
            follower.message(message)
            this.position = message.offset
            sent += 1
            if (follower.bufferedAmount > options.highWaterMark) break
          }
        })
        this.events.delivered(sent)
      }
    } catch (err) {
      this.#stopped = true
      this.events.failed(err)
    } finally {
      this.#running = false
    }
  }
}
