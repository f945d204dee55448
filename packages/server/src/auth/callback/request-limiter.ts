// Bounds the requests in flight to a backend: at most `maxActive` at once, at most
// `maxActivePerKey` for one key (one user), and at most `maxQueued` waiting. The per-key bound is
// what keeps one user — or one slow answer about them — from taking every slot: their extra
// requests wait in the queue while other users' go ahead. A waiting request leaves the queue when
// its signal aborts (its deadline passed), so nothing waits without bound.

/** Options of {@link RequestLimiter}. */
export interface RequestLimiterOptions {
  readonly maxActive: number
  readonly maxActivePerKey: number
  readonly maxQueued: number
}

interface Waiter {
  readonly key: string
  readonly start: () => void
  readonly signal: AbortSignal
  readonly onAbort: () => void
}

/** Refusal of {@link RequestLimiter.run} when the queue is full. */
export class LimiterFullError extends Error {
  override readonly name = 'LimiterFullError'
  readonly code = 'LIMITER_FULL' as const
}

/** Runs tasks under the bounds of {@link RequestLimiterOptions}. */
export class RequestLimiter {
  #active = 0
  readonly #activeByKey = new Map<string, number>()
  readonly #queue: Waiter[] = []

  constructor(private readonly options: RequestLimiterOptions) {}

  /**
   * Runs `task` as soon as the bounds allow. Rejects with {@link LimiterFullError} when the queue
   * is full, and with the signal's reason when it aborts before the task started.
   */
  run<T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason)
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#active += 1
        this.#activeByKey.set(key, (this.#activeByKey.get(key) ?? 0) + 1)
        // Through a promise, so that a task that throws at once still releases its slot.
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => this.#release(key))
      }
      if (this.#canStart(key)) {
        start()
        return
      }
      if (this.#queue.length >= this.options.maxQueued) {
        reject(new LimiterFullError(`${this.#queue.length} requests are already waiting`))
        return
      }
      const waiter: Waiter = {
        key,
        signal,
        start,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter)
          if (index >= 0) this.#queue.splice(index, 1)
          reject(signal.reason)
        },
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  /** Requests running now. */
  get active(): number {
    return this.#active
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length
  }

  #canStart(key: string): boolean {
    return (
      this.#active < this.options.maxActive &&
      (this.#activeByKey.get(key) ?? 0) < this.options.maxActivePerKey
    )
  }

  #release(key: string): void {
    this.#active -= 1
    const left = (this.#activeByKey.get(key) ?? 1) - 1
    if (left === 0) this.#activeByKey.delete(key)
    else this.#activeByKey.set(key, left)
    // First come, first served, skipping keys at their own bound.
    for (let i = 0; i < this.#queue.length && this.#active < this.options.maxActive;) {
      const waiter = this.#queue[i] as Waiter
      if (!this.#canStart(waiter.key)) {
        i += 1
        continue
      }
      this.#queue.splice(i, 1)
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      waiter.start()
    }
  }
}
