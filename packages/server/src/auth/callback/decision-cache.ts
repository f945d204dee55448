// Answers of the authorization backend, kept for as long as it said they may be (`Cache-Control:
// max-age=N`, capped by the server's own upper bound). Allow and deny answers alike: a denied
// user who retries in a loop must not turn into a request per retry. Bounded in size: the oldest
// entry goes first when it is full (Map keeps insertion order).

/** A bounded map from a decision key to an answer with an expiry. */
export class DecisionCache {
  readonly #entries = new Map<string, { readonly allow: boolean; readonly expiresAt: number }>()

  constructor(private readonly maxEntries: number) {}

  /** The answer for `key`, unless absent or expired at `now` (ms). */
  get(key: string, now: number): boolean | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.allow
  }

  /** Keeps `allow` for `key` until `now + ttlMs`; a TTL of 0 keeps nothing. */
  set(key: string, allow: boolean, ttlMs: number, now: number): void {
    if (ttlMs <= 0 || this.maxEntries <= 0) return
    this.#entries.delete(key)
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done === true) break
      this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { allow, expiresAt: now + ttlMs })
  }

  get size(): number {
    return this.#entries.size
  }

  /** Drops every answer whose key starts with `prefix` (a user's, at a revocation). */
  forgetPrefix(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key)
  }
}

/**
 * How long a response may be cached, in seconds, from its `Cache-Control` header: `max-age=N`,
 * or 0 when absent, `no-store`, `no-cache` or malformed.
 *
 * @example
 * maxAgeOf('private, max-age=30') // → 30
 */
export function maxAgeOf(cacheControl: string | null): number {
  if (cacheControl === null) return 0
  let maxAge = 0
  for (const directive of cacheControl.toLowerCase().split(',')) {
    const [name, value] = directive.trim().split('=', 2)
    if (name === 'no-store' || name === 'no-cache') return 0
    if (name === 'max-age' && value !== undefined && /^\d{1,9}$/.test(value.trim())) {
      maxAge = Number(value.trim())
    }
  }
  return maxAge
}
