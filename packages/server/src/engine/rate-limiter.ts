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

  /** Takes one token for `key`; false when the key is over its rate. */
  take(key: string): boolean {
    const now = this.now()
    const bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      this.#buckets.set(key, { tokens: this.burst - 1, at: now })
      return true
    }
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec,
    )
    bucket.at = now
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
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
