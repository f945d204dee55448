/**
 * Token bucket per key: `ratePerSec` tokens refill continuously up to `burst`. Buckets of keys
 * not seen for a while are dropped by `prune()` so the map stays bounded.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes `count` tokens for `key`; false, taking nothing, when the key is over its rate. A batch
   * larger than the burst is admitted on a full bucket and leaves it in debt, paid back at the
   * sustained rate before anything else is admitted: big batches stay possible, and the long-run
   * rate holds however large they are.
   */
  take(key: string, count = 1): boolean {
    const cost = Math.max(count, 1)
    const now = this.now()
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now }
      this.#buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec,
      )
      bucket.at = now
    }
    if (bucket.tokens < Math.min(cost, this.burst)) return false
    bucket.tokens -= cost
    return true
  }

  /** Forgets buckets that have refilled completely (they are equivalent to absent ones). */
  prune(): void {
    const now = this.now()
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec >= this.burst) {
        this.#buckets.delete(key)
      }
    }
  }
}
