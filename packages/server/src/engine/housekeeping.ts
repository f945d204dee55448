import type { Logger } from 'pino'
import type { ClientRef, RetentionPolicy, Store } from '../store/store.js'
import type { ClientDirectory } from './client-directory.js'
import type { CursorLog } from './cursor-log.js'
import { type EngineLifecycle, report } from './engine-lifecycle.js'
import { PeriodicJob } from './periodic-job.js'
import type { StreamFollowers } from './stream-followers.js'

/** Settings of {@link Housekeeping}. */
export interface HousekeepingSettings {
  readonly retention: {
    readonly defaultPolicy: RetentionPolicy
    readonly intervalMs: number
  }
  readonly clients: { readonly ttlMs: number; readonly gcIntervalMs: number }
  readonly cursors: { readonly flushMs: number }
  readonly expiry: { readonly intervalMs: number }
}

/** What housekeeping needs besides the store. */
export interface HousekeepingDeps {
  readonly store: Store
  readonly followers: StreamFollowers
  readonly clients: ClientDirectory
  readonly cursors: CursorLog
  /** Deletes a stream the way a user's DELETE would (followers told, other nodes too). */
  readonly deleteStream: (name: string) => Promise<boolean>
  /** Other per-interval cleanups (rate-limit buckets …), run with the client GC. */
  readonly prune: () => void
  /** Counts streams the expiry job deleted. */
  readonly expired: (count: number) => void
  /** Told of clients garbage-collected (webhooks). */
  readonly lifecycle?: EngineLifecycle | undefined
  readonly logger: Logger
  readonly now: () => number
}

const PAGE = 200

/**
 * The periodic jobs of DESIGN §9, on `unref()`ed timers: retention (never past what a follower on
 * this node still has to deliver), expiry of streams past their TTL, garbage collection of clients
 * not seen for the TTL, and the cursor flush.
 */
export class Housekeeping {
  readonly #jobs: PeriodicJob[]

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
  }

  start(): void {
    for (const job of this.#jobs) job.start()
  }

  async stop(): Promise<void> {
    await Promise.all(this.#jobs.map((job) => job.stop()))
  }

  /**
   * Applies each stream's retention policy (or the default). Never trims what a follower on this
   * node still has to deliver; a client below the new tail on resume gets `reset`.
   */
  async runRetention(): Promise<void> {
    const { store, followers, now } = this.deps
    let after: string | undefined
    for (;;) {
      const page = await store.listStreams(after, PAGE)
      for (const record of page) {
        await store.trim(record.name, {
          policy: record.retention ?? this.settings.retention.defaultPolicy,
          now: now(),
          keepFrom: followers.keepFrom(record.name),
        })
      }
      const last = page.at(-1)
      if (last === undefined || page.length < PAGE) return
      after = last.name
    }
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
