import {
  type FanoutOptions,
  type FanoutResult,
  type FanoutTarget,
  runFanout,
} from './fanout-load.js'

/** One trial of the search. */
export interface SaturationTrial {
  readonly rate: number
  readonly sustained: boolean
  /** Why it was not sustained. */
  readonly reason?: string
  readonly result: FanoutResult
}

/** The p99 above which a trial is not sustained, whatever its trend (ms). */
export const MAX_P99_MS = 50

/**
 * Whether a server sustained the offered rate in a trial. Sustained means all of:
 *
 * 1. **everything delivered**: deliveries of messages sent in the window ≥ 99 % of
 *    sent × subscribers (counted 1.5 s after the window, so nothing is still in flight unless it
 *    is queued);
 * 2. **latency does not run away**: in the last quarter of the window, p50 ≤ 2 × p50 of the first
 *    quarter + 5 ms and p99 ≤ 2 × p99 of the first quarter + 5 ms. A server past saturation
 *    queues: its latency grows through the window instead of staying level;
 * 3. **latency stays interactive**: p99 over the window ≤ {@link MAX_P99_MS} (a queue that is
 *    already long when the window opens grows no further, but it is a queue).
 */
export function judge(result: FanoutResult, subscribers: number): string | undefined {
  const offered = result.sent * subscribers
  if (result.delivered < 0.99 * offered) {
    return `delivered ${((100 * result.delivered) / offered).toFixed(1)} % of the offered deliveries`
  }
  if (result.p99 > MAX_P99_MS) return `p99 ${result.p99.toFixed(1)} ms > ${MAX_P99_MS} ms`
  const { firstQuarter: a, lastQuarter: b } = result
  if (b.p50 > 2 * a.p50 + 5) return `p50 rose from ${a.p50.toFixed(1)} to ${b.p50.toFixed(1)} ms`
  if (b.p99 > 2 * a.p99 + 5) return `p99 rose from ${a.p99.toFixed(1)} to ${b.p99.toFixed(1)} ms`
  return undefined
}

/**
 * The saturation rate of the server `start` launches under the fan-out load: the highest offered
 * rate it sustains ({@link judge}), each trial on a fresh server. The rate doubles from `from`
 * until a trial fails, then bisects between the last sustained and the first failed rate until
 * they are within `precision` (10 %) of each other.
 */
export async function saturationRate(
  start: () => Promise<FanoutTarget>,
  options: Omit<FanoutOptions, 'rate'> & { readonly from?: number; readonly precision?: number },
  log: (line: string) => void = () => {},
): Promise<{ readonly rate: number; readonly trials: readonly SaturationTrial[] }> {
  const trials: SaturationTrial[] = []
  const trial = async (rate: number): Promise<boolean> => {
    const result = await runFanout(start, { ...options, rate })
    const reason = judge(result, options.subscribers)
    trials.push({
      rate,
      sustained: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
      result,
    })
    log(
      `  ${rate} msg/s: ${reason === undefined ? 'sustained' : `not sustained (${reason})`}; ` +
        `p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms`,
    )
    return reason === undefined
  }
  let good = 0
  let bad = Number.POSITIVE_INFINITY
  for (let rate = options.from ?? 250; rate <= 256_000; rate *= 2) {
    if (await trial(rate)) good = rate
    else {
      bad = rate
      break
    }
  }
  // Not even the first rate: halve down to 25 msg/s (a starved machine).
  for (let rate = (options.from ?? 250) / 2; good === 0 && rate >= 25; rate /= 2) {
    if (await trial(Math.round(rate))) good = Math.round(rate)
    else bad = Math.round(rate)
  }
  if (good === 0) return { rate: 0, trials }
  while (Number.isFinite(bad) && (bad - good) / good > (options.precision ?? 0.1)) {
    const mid = Math.round((good + bad) / 2 / 10) * 10
    if (await trial(mid)) good = mid
    else bad = mid
  }
  return { rate: good, trials }
}
