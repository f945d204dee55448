/** The delays of a retry policy: exponential from `initialDelayMs`, capped at `maxDelayMs`. */
export interface RetryDelayPolicy {
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

/**
 * How long to wait before retry number `attempt` (0 for the first retry): exponential backoff with
 * full jitter — a uniform draw in [0, min(max, initial × 2^attempt)) — so that many failed
 * deliveries do not all come back at the same moment when the receiver recovers.
 *
 * @example
 * retryDelay(3, { initialDelayMs: 1_000, maxDelayMs: 300_000 }) // somewhere in [0, 8000)
 */
export function retryDelay(
  attempt: number,
  policy: RetryDelayPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 40))
  return Math.floor(random() * ceiling)
}
