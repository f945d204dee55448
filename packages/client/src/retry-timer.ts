import type { Clock, TimerHandle } from './clock.js'

/**
 * One pending retry, owned by one object (Phoenix's `Timer`). `schedule()` waits the delay of the
 * current attempt and counts it; `reset()` cancels and starts counting from zero again.
 */
export class RetryTimer {
  #handle: TimerHandle | undefined
  #attempt = 0
  readonly #clock: Clock
  readonly #callback: () => void
  readonly #delayOf: (attempt: number) => number

  constructor(clock: Clock, callback: () => void, delayOf: (attempt: number) => number) {
    this.#clock = clock
    this.#callback = callback
    this.#delayOf = delayOf
  }

  /** Retries made since the last `reset()`. */
  get attempt(): number {
    return this.#attempt
  }

  /** Schedules the next retry after the policy's delay (or `delayMs`); returns the delay. */
  schedule(delayMs: number = this.#delayOf(this.#attempt)): number {
    this.cancel()
    this.#attempt += 1
    this.#handle = this.#clock.setTimeout(() => {
      this.#handle = undefined
      this.#callback()
    }, delayMs)
    return delayMs
  }

  /** Cancels a scheduled retry, keeping the attempt count. */
  cancel(): void {
    if (this.#handle === undefined) return
    this.#clock.clearTimeout(this.#handle)
    this.#handle = undefined
  }

  /** Cancels and forgets past attempts. */
  reset(): void {
    this.cancel()
    this.#attempt = 0
  }
}
