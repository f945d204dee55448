import type { AppendRequest, AppendResult, Store } from '../store/store.js'

interface Pending {
  readonly request: AppendRequest
  readonly resolve: (result: AppendResult) => void
  readonly reject: (err: unknown) => void
}

/** Observes each committed batch (metrics, fan-out). */
export type CommitObserver = (
  batch: readonly AppendRequest[],
  results: readonly AppendResult[],
  seconds: number,
) => void

/**
 * Group commit (DESIGN §3): every append that arrives within one tick joins one store transaction.
 * Only one transaction is in flight at a time; appends that arrive meanwhile form the next batch.
 * That keeps appends in arrival order — which is what serialises validation per
 * (stream, producer) as Durable Streams §5.2.1 requires — and amortises the fsync over the batch.
 * A promise resolves only after its batch has committed, so an ack built on it is durable (G1).
 */
export class GroupCommitter {
  #queue: Pending[] = []
  #scheduled = false
  #inFlight: Promise<void> | undefined
  #closed = false

  constructor(
    private readonly store: Store,
    private readonly onCommit: CommitObserver,
    private readonly maxBatch = 2000,
  ) {}

  /** Queues one append; resolves with its result once its batch has committed. */
  append(request: AppendRequest): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error('group committer is closed'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject })
      this.#schedule()
    })
  }

  /** Commits everything queued so far and stops accepting appends. */
  async close(): Promise<void> {
    this.#closed = true
    await this.flush()
  }

  /** Resolves when every append queued before the call has committed. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight !== undefined) {
      if (this.#inFlight !== undefined) await this.#inFlight
      else await this.#run()
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      if (this.#inFlight === undefined) void this.#run()
    })
  }

  #run(): Promise<void> {
    const batch = this.#queue.splice(0, this.maxBatch)
    if (batch.length === 0) return Promise.resolve()
    const started = process.hrtime.bigint()
    this.#inFlight = this.store
      .append(batch.map((p) => p.request))
      .then(
        (results) => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9
          this.onCommit(
            batch.map((p) => p.request),
            results,
            seconds,
          )
          batch.forEach((p, i) => {
            const result = results[i]
            if (result === undefined) p.reject(new Error('store returned too few results'))
            else p.resolve(result)
          })
        },
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      )
      .finally(() => {
        this.#inFlight = undefined
        if (this.#queue.length > 0) this.#schedule()
      })
    return this.#inFlight
  }
}
