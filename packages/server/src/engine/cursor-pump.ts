import type { Store } from '../store/store.js'
import type { FrameSink } from './frame-sink.js'
import type { HubMember, StreamHub } from './stream-hub.js'

/** What a pump reports back to its owner. */
export interface PumpEvents {
  /** Every message up to `head` has been written; sent once per subscription. */
  caughtUp(head: number): void
  /** Messages the pump needed were trimmed while it was behind: the history has a hole. */
  truncated(position: number): Promise<void>
  /** `count` message frames were written. */
  delivered(count: number): void
  /** Reading the store failed; the subscription cannot continue. */
  failed(err: unknown): void
}

export interface PumpOptions {
  /** Messages read from the store per query while catching up. */
  readonly pageSize: number
  /** Bytes queued on the sink above which the pump stops writing until it drains. */
  readonly highWaterMark: number
}

/**
 * The cursor pump of one (connection, stream) (DESIGN §3): it owns a position and, whenever the
 * stream advances or the socket drains, writes the next frames. It takes them from the hub's window
 * of recent frames when it can and from the store when it is behind — live delivery and catch-up
 * are the same loop. Above the high-water mark it stops writing and waits for the socket to drain,
 * so a slow consumer costs a position, not a buffer (G6).
 */
export class CursorPump implements HubMember {
  #running = false
  #stopped = false
  #caughtUp = false

  constructor(
    private readonly hub: StreamHub,
    private readonly sink: FrameSink,
    private readonly store: Store,
    private readonly events: PumpEvents,
    private readonly options: PumpOptions,
    /** Last offset written to the sink. */
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
    try {
      while (!this.#stopped && !this.sink.closed) {
        if (this.position >= this.hub.head) {
          if (!this.#caughtUp) {
            this.#caughtUp = true
            this.events.caughtUp(this.position)
          }
          return
        }
        if (this.sink.bufferedAmount > this.options.highWaterMark) {
          await this.sink.whenDrained()
          continue
        }
        let batch = this.hub.recentAfter(this.position, this.options.pageSize)
        if (batch === undefined) {
          const epoch = this.hub.epoch
          const stored = await this.store.read(this.hub.name, this.position, this.options.pageSize)
          // The stream may have been recreated while we awaited the store.
          if (this.hub.epoch !== epoch || this.#stopped) continue
          batch = this.hub.frame(stored)
        }
        const first = batch[0]
        if (first === undefined || first.offset !== this.position + 1) {
          // Retention trimmed what we still had to send. Never skip silently (G3).
          await this.events.truncated(this.position)
          continue
        }
        let sent = 0
        this.sink.batch(() => {
          for (const message of batch) {
            this.sink.sendMessage(message)
            this.position = message.offset
            sent += 1
            if (this.sink.bufferedAmount > this.options.highWaterMark) break
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
