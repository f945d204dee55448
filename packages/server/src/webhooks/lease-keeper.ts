import type { Logger } from 'pino'
import { PeriodicJob } from '../engine/periodic-job.js'
import type { Store } from '../store/store.js'

// Holds a store lease (Store.claimLease) for one node of a deployment and runs a job while it
// holds it:
//
//   every ttl / 3:  claim (take or renew) ──true──▶ held: `acquired()` the first time
//                        │
//                        ├──false──▶ another node holds it: `lost()` if it was held here
//                        └──error──▶ kept while the last renewal still covers the next attempt,
//                                    else `lost()`: never run past a lease that may have expired
//   stop():         `lost()` if held, then release, so another node takes over at its next claim
//
// A node that dies stops renewing: the lease expires after the TTL and another node's next claim
// takes it — at most the TTL after the last renewal, plus one claim interval. Two nodes may both
// run the job for a moment (a node paused past its TTL runs on until its next claim): the job
// must tolerate that (webhook deliveries are at least once, deduplicated by id).

/** Why a node stopped holding the lease. */
type LeaseLoss = 'released' | 'taken-over' | 'not-renewed' | 'job-failed'

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  readonly store: Pick<Store, 'claimLease' | 'releaseLease'>
  /** The lease, e.g. `webhooks`. */
  readonly name: string
  /** This node, unique per process (hostname, pid and a random part). */
  readonly holder: string
  readonly ttlMs: number
  /** Starts the job; called when the lease is taken. */
  readonly acquired: () => Promise<void>
  /** Stops the job; called when the lease is lost, and by `stop()` while it is held. */
  readonly lost: () => Promise<void>
  readonly logger: Logger
  readonly now?: (() => number) | undefined
}

/**
 * Claims a lease at a third of its TTL and runs a job while it holds it (see the diagram above).
 *
 * @example
 * const keeper = new LeaseKeeper({ store, name: 'webhooks', holder, ttlMs: 15_000,
 *   acquired: async () => dispatcher.start(), lost: () => dispatcher.stop(), logger })
 * await keeper.start()
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions
  readonly #now: () => number
  readonly #intervalMs: number
  readonly #job: PeriodicJob
  /** Until when the last successful claim holds the lease; `undefined` while not held. */
  #heldUntil: number | undefined
  #stopped = false

  constructor(options: LeaseKeeperOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#intervalMs = Math.max(1, Math.floor(options.ttlMs / 3))
    this.#job = new PeriodicJob(
      `lease-${options.name}`,
      this.#intervalMs,
      () => this.#claim(),
      options.logger,
    )
  }

  /** Whether this node holds the lease (as of its last claim). */
  get held(): boolean {
    return this.#heldUntil !== undefined
  }

  /** Claims at once (resolving once the job started, when the lease was free), then periodically. */
  async start(): Promise<void> {
    this.#stopped = false
    await this.#job.runNow()
    this.#job.start()
  }

  /** Stops claiming; when the lease is held, stops the job and releases the lease. */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#job.stop()
    if (this.#heldUntil === undefined) return
    await this.#lose('released')
    const { store, name, holder, logger } = this.#options
    await store.releaseLease(name, holder).catch((err: unknown) => {
      logger.warn({ err, lease: name }, 'cannot release the lease: another node waits for its TTL')
    })
  }

  async #claim(): Promise<void> {
    if (this.#stopped) return
    const { store, name, holder, ttlMs, logger } = this.#options
    const at = this.#now()
    let claimed: boolean
    try {
      claimed = await store.claimLease(name, holder, ttlMs, at)
    } catch (err) {
      logger.error({ err, lease: name }, 'cannot claim the lease')
      // Still ours for certain only while the last renewal covers the next attempt too.
      if (this.#heldUntil !== undefined && this.#now() + this.#intervalMs >= this.#heldUntil) {
        await this.#lose('not-renewed')
      }
      return
    }
    if (!claimed) {
      if (this.#heldUntil !== undefined) await this.#lose('taken-over')
      return
    }
    const first = this.#heldUntil === undefined
    this.#heldUntil = at + ttlMs
    if (!first) return
    logger.info({ lease: name, holder }, 'lease taken: this node runs its job')
    try {
      await this.#options.acquired()
    } catch (err) {
      // The job could not start here: give the lease to another node rather than sit on it.
      logger.error({ err, lease: name }, 'the job of the lease failed to start; releasing it')
      await this.#lose('job-failed')
      await store.releaseLease(name, holder).catch(() => undefined)
    }
  }

  async #lose(reason: LeaseLoss): Promise<void> {
    this.#heldUntil = undefined
    const { name, logger } = this.#options
    if (reason !== 'released') logger.warn({ lease: name, reason }, 'lease lost: job stopped')
    try {
      await this.#options.lost()
    } catch (err) {
      logger.error({ err, lease: name }, 'the job of the lease failed to stop')
    }
  }
}
