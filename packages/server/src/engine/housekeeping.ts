import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics.js'
import type { ClientRef, ClientStateCounts, Store } from '../store/store.js'
import type { ClientClosing } from './client-closing.js'
import type { CursorLog } from './cursor-log.js'
import { type EngineLifecycle, report } from './engine-lifecycle.js'
import type { NodeClientDirectory } from './node-client-directory.js'
import { PeriodicJob } from './periodic-job.js'
import { RetentionHolds, type RetentionMetrics } from './retention-holds.js'
import { type RetentionPolicies, retentionSourceLabel } from './retention-rules.js'
import type { StreamFollowers } from './stream-followers.js'

/** Settings of {@link Housekeeping}. */
export interface HousekeepingSettings {
  readonly retention: { readonly intervalMs: number }
  readonly clients: {
    readonly ttlMs: number
    readonly gcIntervalMs: number
    readonly countIntervalMs: number
  }
  readonly producers: { readonly ttlMs: number; readonly gcIntervalMs: number }
  readonly cursors: { readonly flushMs: number }
  readonly expiry: { readonly intervalMs: number }
}

/** What housekeeping needs besides the store. */
export interface HousekeepingDeps {
  readonly store: Store
  readonly followers: StreamFollowers
  readonly clients: NodeClientDirectory
  readonly cursors: CursorLog
  /** Each stream's retention policy: its own, a rule's or the default. */
  readonly retention: RetentionPolicies
  /** Clients whose tab closed for good. */
  readonly closing: ClientClosing
  /** Deletes a stream the way a user's DELETE would (followers told, other nodes too). */
  readonly deleteStream: (name: string) => Promise<boolean>
  /** Other per-interval cleanups (rate-limit buckets …), run with the client GC. */
  readonly prune: () => void
  /** Counts streams the expiry job deleted. */
  readonly expired: (count: number) => void
  /** Told of clients garbage-collected (webhooks). */
  readonly lifecycle?: EngineLifecycle | undefined
  readonly metrics: RetentionMetrics & Pick<Metrics, 'clients' | 'producersExpired'>
  readonly logger: Logger
  readonly now: () => number
}

const PAGE = 200

/**
 * The periodic jobs of DESIGN §9, on `unref()`ed timers: retention (never past what a follower on
 * this node still has to deliver), expiry of streams past their TTL, garbage collection of clients
 * not seen for the TTL, forgetting clients whose tab closed, the client count by state, producer
 * state expiry, and the cursor flush.
 */
export class Housekeeping {
  readonly #jobs: PeriodicJob[]
  readonly #counting: PeriodicJob

  constructor(
    private readonly deps: HousekeepingDeps,
    private readonly settings: HousekeepingSettings,
  ) {
    const { logger } = deps
    this.#jobs = [
      new PeriodicJob(
        'retention',
        settings.retention.intervalMs,
        () => this.runRetention(),
        logger,
      ),
      new PeriodicJob(
        'client-gc',
        settings.clients.gcIntervalMs,
        async () => {
          await this.runClientGc()
        },
        logger,
      ),
      // Durable Streams TTL / Expires-At (§5.1): HTTP requests check expiry themselves, so this job
      // only bounds how long an expired, untouched stream keeps its storage.
      new PeriodicJob(
        'stream-expiry',
        settings.expiry.intervalMs,
        () => this.runExpiry().then(() => undefined),
        logger,
      ),
      new PeriodicJob(
        'client-closing',
        deps.closing.intervalMs,
        async () => {
          deps.metrics.clients.set({ state: 'connected' }, deps.clients.connectedCount)
          await deps.closing.forgetClosed()
        },
        logger,
      ),
      // A scan of the producer states: rare (hourly by default), from every node.
      new PeriodicJob(
        'producer-expiry',
        settings.producers.gcIntervalMs,
        async () => {
          await this.runProducerExpiry()
        },
        logger,
      ),
      // Acks and "last seen" of clients are written in batches, one transaction per interval.
      new PeriodicJob(
        'cursor-flush',
        settings.cursors.flushMs,
        async () => {
          await deps.cursors.flush()
          await deps.clients.flush()
        },
        logger,
      ),
    ]
    // A scan of the clients, for a metric: on its own period, not per scrape.
    this.#counting = new PeriodicJob(
      'client-count',
      settings.clients.countIntervalMs,
      async () => {
        await this.countClients()
      },
      logger,
    )
    this.#jobs.push(this.#counting)
  }

  start(): void {
    for (const job of this.#jobs) job.start()
    // The gauge would otherwise be empty for a whole period after a start.
    void this.#counting.runNow()
  }

  async stop(): Promise<void> {
    await Promise.all(this.#jobs.map((job) => job.stop()))
  }

  /**
   * Applies each stream's retention policy — its own, else the first rule matching its name, else
   * the default — one set-based trim per stream. Never trims what a follower on this node still
   * has to deliver; a client below the new tail on resume gets `reset`. Publishes what until-acked
   * streams retain for their slowest following clients (metrics).
   */
  async runRetention(): Promise<void> {
    const { store, followers, retention, now } = this.deps
    const holds = new RetentionHolds(this.deps.metrics, retention.sourceLabels)
    let after: string | undefined
    for (;;) {
      const page = await store.listStreams(after, PAGE)
      for (const record of page) {
        const { policy, source } = retention.of(record)
        const label = retentionSourceLabel(source)
        const tail = await store.trim(record.name, {
          policy,
          now: now(),
          keepFrom: followers.keepFrom(record.name),
        })
        holds.trimmed(label, tail - record.tail)
        // Something retained on an until-acked stream: is a following client holding it back?
        if (policy.untilAcked === true && tail <= record.head) {
          const [slowest] = await store.retentionHolders(record.name, 1)
          if (slowest !== undefined) {
            const head = slowest.offset + slowest.behind
            holds.held(label, head - Math.max(slowest.offset, tail - 1), slowest.behind)
          }
        }
      }
      const last = page.at(-1)
      if (last === undefined || page.length < PAGE) break
      after = last.name
    }
    holds.publish()
  }

  /**
   * Deletes streams whose TTL or absolute expiry has passed (Durable Streams §5.1); returns how
   * many. Their followers are told as for any delete.
   */
  async runExpiry(): Promise<number> {
    let count = 0
    for (;;) {
      const names = await this.deps.store.expiredStreams(this.deps.now(), PAGE)
      let deleted = 0
      for (const name of names) if (await this.deps.deleteStream(name)) deleted += 1
      count += deleted
      if (deleted > 0) this.deps.expired(deleted)
      // A page that deleted nothing would come back the same: stop rather than spin.
      if (names.length < PAGE || deleted === 0) return count
    }
  }

  /**
   * Counts the registered clients by state for `seqline_clients`: `connected` on this node, and
   * from the store `active`, `idle` — not seen for twice the GC interval, while every node marks
   * its connected clients seen once per GC interval: connected nowhere — and `closing`.
   */
  async countClients(): Promise<ClientStateCounts> {
    const { store, clients, metrics, now } = this.deps
    const counts = await store.countClientsByState(now() - 2 * this.settings.clients.gcIntervalMs)
    metrics.clients.set({ state: 'connected' }, clients.connectedCount)
    metrics.clients.set({ state: 'active' }, counts.active)
    metrics.clients.set({ state: 'idle' }, counts.idle)
    metrics.clients.set({ state: 'closing' }, counts.closing)
    return counts
  }

  /**
   * Deletes producer states unused for the producer TTL (Durable Streams lets them expire; a
   * producer coming back later starts over); returns how many.
   */
  async runProducerExpiry(): Promise<number> {
    const { store, metrics, now } = this.deps
    const count = await store.gcProducers(now() - this.settings.producers.ttlMs)
    if (count > 0) metrics.producersExpired.inc(count)
    return count
  }

  /** Removes clients not seen for the TTL (connected clients are seen now); returns them. */
  async runClientGc(): Promise<ClientRef[]> {
    const { clients, store, lifecycle, logger } = this.deps
    const now = this.deps.now()
    await clients.touchConnected(now)
    this.deps.prune()
    const removed = await store.gcClients(now - this.settings.clients.ttlMs)
    for (const client of removed) {
      await report(lifecycle, logger, (l) => l.clientForgotten(client.userId, client.id, 'expired'))
    }
    return removed
  }
}
