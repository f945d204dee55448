import type { Metrics } from '../observability/metrics.js'

/** The instruments one retention run reports to. */
export type RetentionMetrics = Pick<
  Metrics,
  'retentionHeldStreams' | 'retentionHeldMessages' | 'retentionMaxBehind' | 'retentionTrimmed'
>

interface Totals {
  streams: number
  messages: number
  maxBehind: number
}

/**
 * What one run of the retention job found held back, summed per policy source (a bounded label:
 * the rule patterns, `default`, `stream`), then published at once as gauges: which clients hold
 * which stream is too many series for 100k users, and is answered by the delivery-state API.
 */
export class RetentionHolds {
  readonly #totals = new Map<string, Totals>()

  /** `sources`: every policy source there is, so that each has its series, 0 when nothing is held. */
  constructor(
    private readonly metrics: RetentionMetrics,
    sources: readonly string[],
  ) {
    for (const source of sources)
      this.#totals.set(source, { streams: 0, messages: 0, maxBehind: 0 })
  }

  /** Counts messages the run trimmed from a stream of policy `source`. */
  trimmed(source: string, count: number): void {
    if (count > 0) this.metrics.retentionTrimmed.inc({ policy: source }, count)
  }

  /**
   * Records an until-acked stream held back: it retains `messages` that its slowest following
   * client, `behind` messages behind the head, has not acked.
   */
  held(source: string, messages: number, behind: number): void {
    const totals = this.#totals.get(source) ?? { streams: 0, messages: 0, maxBehind: 0 }
    totals.streams += 1
    totals.messages += messages
    totals.maxBehind = Math.max(totals.maxBehind, behind)
    this.#totals.set(source, totals)
  }

  /** Replaces the gauges with this run's totals. */
  publish(): void {
    const { retentionHeldStreams, retentionHeldMessages, retentionMaxBehind } = this.metrics
    retentionHeldStreams.reset()
    retentionHeldMessages.reset()
    retentionMaxBehind.reset()
    for (const [policy, totals] of this.#totals) {
      retentionHeldStreams.set({ policy }, totals.streams)
      retentionHeldMessages.set({ policy }, totals.messages)
      retentionMaxBehind.set({ policy }, totals.maxBehind)
    }
  }
}
