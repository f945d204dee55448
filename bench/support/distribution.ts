/** Percentiles of a set of samples. */
export interface Distribution {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** Summarises `samples` (any unit); NaN fields when there are none. */
export function distributionOf(samples: readonly number[]): Distribution {
  if (samples.length === 0) {
    return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN }
  }
  const sorted = Float64Array.from(samples).sort()
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  }
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return distributionOf(values).p50
}
