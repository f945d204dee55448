/** Reconnect delay policy: exponential, with full jitter and a cap. */
export interface BackoffOptions {
  /** Upper bound of the first delay. */
  readonly baseMs: number
  /** No delay is ever longer than this. */
  readonly maxMs: number
}

/**
 * Delay before retry number `attempt` (0-based): uniformly random in
 * `[0, min(maxMs, baseMs * 2^attempt))` — "full jitter", which spreads a crowd of clients that lost
 * the same server instead of having them reconnect in waves.
 *
 * @example
 * backoffDelay(3, { baseMs: 500, maxMs: 30_000 }) // somewhere in [0, 4000)
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
