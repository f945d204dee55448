import { isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import { PeriodicJob } from '../engine/periodic-job.js'
import type { Store, UnreadQuery } from '../store/store.js'
import { type WebhookEvent, createWebhookEvent, unreadEventId } from './webhook-event.js'

// Finds the `unread` episodes of the whole deployment — a user none of whose clients is connected
// anywhere, with messages of others they have not acknowledged for longer than the delay — with
// one set-based store query per page (Store.findUnread), and records one event per episode.
//
//   offline:  every client of the user was last seen before now − delay. "Last seen" is written
//             on connect and disconnect, and every node re-marks its connected clients on every
//             run (interval ≤ delay / 4), so a connected client is never seen that long ago.
//   unread:   per (user, stream), the messages after the furthest ack of any of the user's clients
//             in the stream's current epoch, not sent by the user; the episode is reported once
//             the first of them was committed before now − delay.
//   once:     an episode is (user, stream, epoch, firstUnreadOffset); its event id is derived from
//             it (unreadEventId), so every detection of it — after a restart, on the node that
//             took the `webhooks` lease over — carries the same id and receivers drop repeats. A
//             detector runs on the lease holder only; it remembers the ids it recorded and those
//             already in the log when it starts, and records no episode twice.

/** The store query behind `unread` webhooks: `Store.findUnread` (one set-based query a page). */
export type UnreadSource = Pick<Store, 'findUnread'>

/** Options of {@link UnreadDetector}. */
export interface UnreadDetectorOptions {
  readonly source: UnreadSource
  /** Records an event durably (the webhook log's append). */
  readonly record: (event: WebhookEvent) => Promise<unknown>
  /** How long a user must be offline with an unread message. */
  readonly delayMs: number
  /** Ids of `unread` events already in the log (recorded before a restart, or by other nodes). */
  readonly recorded?: Iterable<string> | undefined
  readonly logger: Logger
  readonly now?: (() => number) | undefined
}

/** Rows asked per query. */
const PAGE = 500
/**
 * Unread messages counted per episode: the event's `unread` is at most this (a badge shows "99+"),
 * and counting stops there instead of scanning everything a user missed while away for days.
 */
export const UNREAD_COUNT_CAP = 100
/** Event ids remembered; beyond, the oldest are forgotten (a repeat then has the same id). */
const MAX_REMEMBERED = 100_000

/**
 * How often the detector runs and every node re-marks its connected clients as seen: a quarter of
 * the delay (at least 100 ms, at most 15 s), so a connected client is always seen within it.
 */
export function unreadIntervalMs(delayMs: number): number {
  return Math.min(15_000, Math.max(100, Math.floor(delayMs / 4)))
}

/**
 * Records an `unread` webhook event per episode, on a periodic job (see the top of this file).
 *
 * @example
 * const detector = new UnreadDetector({ source: store, record: (e) => log.append(e), delayMs, logger })
 * detector.start()
 */
export class UnreadDetector {
  readonly #options: UnreadDetectorOptions
  readonly #now: () => number
  readonly #recorded = new Set<string>()
  readonly #job: PeriodicJob

  constructor(options: UnreadDetectorOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    for (const id of options.recorded ?? []) this.#remember(id)
    this.#job = new PeriodicJob(
      'webhook-unread',
      unreadIntervalMs(options.delayMs),
      () => this.run().then(() => undefined),
      options.logger,
    )
  }

  start(): void {
    this.#job.start()
  }

  /** Stops the job, waiting for a run in progress. */
  stop(): Promise<void> {
    return this.#job.stop()
  }

  /** One pass over every offline user's unread episodes; resolves how many events it recorded. */
  async run(): Promise<number> {
    const now = this.#now()
    const before = now - this.#options.delayMs
    let recorded = 0
    let after: UnreadQuery['after']
    for (;;) {
      const page = await this.#options.source.findUnread({
        offlineBefore: before,
        committedBefore: before,
        after,
        limit: PAGE,
        maxCount: UNREAD_COUNT_CAP,
      })
      for (const episode of page) {
        // Internal streams (the webhook log and its reserved cursor client) are nobody's inbox.
        if (!isValidStreamName(episode.stream)) continue
        const id = unreadEventId(
          episode.user,
          episode.stream,
          episode.epoch,
          episode.firstUnreadOffset,
        )
        if (this.#recorded.has(id)) continue
        const event = createWebhookEvent(
          'unread',
          {
            user: episode.user,
            stream: episode.stream,
            unread: episode.unread,
            firstUnreadOffset: episode.firstUnreadOffset,
            since: new Date(episode.since).toISOString(),
          },
          now,
          id,
        )
        await this.#options.record(event)
        this.#remember(id)
        recorded += 1
      }
      const last = page.at(-1)
      if (last === undefined || page.length < PAGE) return recorded
      after = { user: last.user, stream: last.stream }
    }
  }

  #remember(id: string): void {
    this.#recorded.add(id)
    if (this.#recorded.size > MAX_REMEMBERED) {
      const oldest = this.#recorded.values().next().value
      if (oldest !== undefined) this.#recorded.delete(oldest)
    }
  }
}
