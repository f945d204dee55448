import type { AckFrame } from '@seqline/protocol'
import type { Clock, TimerHandle } from './clock.js'

/**
 * Cumulative acks, batched: after a message is processed its offset is noted, and one `ack` per
 * stream carrying the highest processed offset goes out `delayMs` later. An ack that cannot be sent
 * (offline) stays pending and goes out with the next flush.
 */
export class AckBatcher {
  readonly #clock: Clock
  readonly #delayMs: number
  readonly #send: (frame: AckFrame) => boolean
  readonly #pending = new Map<string, number>()
  #timer: TimerHandle | undefined

  constructor(clock: Clock, delayMs: number, send: (frame: AckFrame) => boolean) {
    this.#clock = clock
    this.#delayMs = delayMs
    this.#send = send
  }

  /** The app finished processing `offset` of `stream`. */
  processed(stream: string, offset: number): void {
    this.#pending.set(stream, offset)
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.flush()
    }, this.#delayMs)
  }

  /** Sends every pending ack now. */
  flush(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    for (const [stream, offset] of this.#pending) {
      if (this.#send({ t: 'ack', stream, offset })) this.#pending.delete(stream)
    }
  }

  /** Forgets a stream (unsubscribed, or its epoch changed). */
  drop(stream: string): void {
    this.#pending.delete(stream)
  }

  /** Cancels the timer; pending acks are dropped (the stored position covers them). */
  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#pending.clear()
  }
}
