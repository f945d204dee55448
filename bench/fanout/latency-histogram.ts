/** Latency samples in microseconds, with percentiles. Bounded: keeps at most `max` samples. */
export class LatencyHistogram {
  readonly #samples: number[] = []
  #count = 0

  constructor(private readonly max = 2_000_000) {}

  record(ms: number): void {
    this.#count += 1
    if (this.#samples.length < this.max) this.#samples.push(ms)
  }

  get count(): number {
    return this.#count
  }

  percentile(p: number): number {
    if (this.#samples.length === 0) return Number.NaN
    const sorted = [...this.#samples].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
  }
}
