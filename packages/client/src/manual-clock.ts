import type { Clock, TimerHandle } from './clock.js'

interface ManualTimer {
  readonly id: number
  readonly at: number
  readonly callback: () => void
}

/**
 * A clock that only moves when told to. For tests of anything timed (backoff, heartbeats, ack
 * batching) without sleeping.
 *
 * @example
 * const clock = new ManualClock()
 * const client = createClient({ url, token, clock })
 * clock.advance(30_000) // fires every timer due in the next 30 s, in order
 */
export class ManualClock implements Clock {
  #now: number
  #nextId = 1
  #timers: ManualTimer[] = []

  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), callback }
    this.#timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle)
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    return this.#timers.length
  }

  /** When each scheduled timer falls due, earliest first: lets a test wait for a plan to be made. */
  due(): number[] {
    return this.#timers.map((timer) => timer.at).sort((a, b) => a - b)
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      const next = this.#earliest()
      if (next === undefined || next.at > target) break
      this.#timers = this.#timers.filter((timer) => timer !== next)
      this.#now = next.at
      next.callback()
    }
    this.#now = target
  }

  /** Jumps time forward without firing anything: a device that slept, its timers frozen. */
  jump(ms: number): void {
    this.#now += ms
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined
    for (const timer of this.#timers) {
      if (
        best === undefined ||
        timer.at < best.at ||
        (timer.at === best.at && timer.id < best.id)
      ) {
        best = timer
      }
    }
    return best
  }
}
