import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Registry } from 'prom-client'
import { checkSigningSecret } from '../auth/hmac-signature.js'
import type { Engine } from '../engine/engine.js'
import type { EngineLifecycle } from '../engine/engine-lifecycle.js'
import { PeriodicJob } from '../engine/periodic-job.js'
import type { Logger } from '../observability/logger.js'
import type { ServerSettings } from '../settings/server-settings.js'
import type { Store } from '../store/store.js'
import { LeaseKeeper } from '../webhooks/lease-keeper.js'
import { StreamWebhookLog } from '../webhooks/stream-webhook-log.js'
import { UnreadDetector, unreadIntervalMs } from '../webhooks/unread-detector.js'
import { WebhookDispatcher, parseWebhookUrl } from '../webhooks/webhook-dispatcher.js'
import { type WebhookEvent, createWebhookEvent } from '../webhooks/webhook-event.js'

// Webhooks in a running server (`--webhook-url`):
//
//   every node:      engine ──lifecycle──▶ StreamWebhookLog ($webhooks, durable)
//                    liveness job: marks its connected clients seen
//   lease holder:    UnreadDetector (store query) ──▶ log ──▶ WebhookDispatcher ──▶ receiver
//
// The engine reports clients registered and forgotten and streams deleted; each report is an
// event appended to the log before the operation answers, on whichever node it happens. One node
// of the deployment — the holder of the store lease `webhooks` (LeaseKeeper) — delivers the log
// with its one shared cursor and runs the unread detector; when it stops renewing the lease
// (stopped, or dead), another node takes both over from the saved cursor. Every node keeps the
// "last seen" of its connected clients recent, which the detector's query relies on.

/** Options of {@link WebhookService}. */
export interface WebhookServiceOptions {
  readonly settings: ServerSettings['webhooks']
  /** The receiver (`settings.url`, given). */
  readonly url: string
  /** The HMAC secret deliveries are signed with. */
  readonly secret: string
  readonly logger: Logger
  /** The server's metrics registry (`seqline_webhook_*`). */
  readonly registry: Registry
}

/** The store lease whose holder delivers webhooks and detects `unread`. */
export const WEBHOOK_LEASE = 'webhooks'

/**
 * Records the engine's lifecycle events in the webhook log on every node; on the node that holds
 * the `webhooks` lease, also detects `unread` events and delivers the log. Built before the
 * engine (its `lifecycle` is the engine's listener), started once the engine is.
 *
 * @example
 * const webhooks = new WebhookService({ settings: settings.webhooks, url, secret, logger, registry })
 * const engine = new Engine({ …, lifecycle: webhooks.lifecycle }, settings)
 * await webhooks.start(engine, store)
 */
export class WebhookService {
  readonly #options: WebhookServiceOptions
  #log: StreamWebhookLog | undefined
  #dispatcher: WebhookDispatcher | undefined
  #detector: UnreadDetector | undefined
  #liveness: PeriodicJob | undefined
  #lease: LeaseKeeper | undefined

  /** Throws at once on a malformed receiver URL or a short secret. */
  constructor(options: WebhookServiceOptions) {
    parseWebhookUrl(options.url)
    checkSigningSecret(options.secret, 'webhook secret')
    this.#options = options
  }

  /** What the engine reports to: each report is an event appended to the log. */
  readonly lifecycle: EngineLifecycle = {
    clientRegistered: (user, clientId) =>
      this.#record(createWebhookEvent('client.registered', { user, clientId })),
    clientForgotten: (user, clientId, reason) =>
      this.#record(createWebhookEvent('client.forgotten', { user, clientId, reason })),
    streamDeleted: (stream, reason) =>
      this.#record(createWebhookEvent('stream.deleted', { stream, reason })),
  }

  /**
   * Opens the log, starts marking connected clients seen and claims the `webhooks` lease: when
   * this node gets it, it delivers and detects `unread` (now or once the holder stops). On a
   * failure, whatever it started is stopped again.
   */
  async start(engine: Engine, store: Store): Promise<void> {
    try {
      await this.#start(engine, store)
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async #start(engine: Engine, store: Store): Promise<void> {
    const { settings, logger, url } = this.#options
    const log = await StreamWebhookLog.open({
      engine,
      store,
      // Kept twice as long as an event may be retried: an event is given up before it is trimmed.
      retentionMs: 2 * settings.maxAgeMs,
      logger,
    })
    this.#log = log
    // Every node keeps "last seen" of its connected clients recent, whichever node detects.
    this.#liveness = new PeriodicJob(
      'webhook-liveness',
      unreadIntervalMs(settings.unreadDelayMs),
      () => engine.clients.touchConnected(Date.now()),
      logger,
    )
    this.#liveness.start()
    this.#lease = new LeaseKeeper({
      store,
      name: WEBHOOK_LEASE,
      // Unique per process: a restarted node is a new holder, never its predecessor's renewal.
      holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      ttlMs: settings.leaseTtlMs,
      acquired: () => this.#startDelivering(store, log),
      lost: () => this.#stopDelivering(),
      logger,
    })
    await this.#lease.start()
    logger.info(
      { url: `${new URL(url).origin}/…`, delivering: this.#lease.held },
      this.#lease.held ? 'webhooks on: this node delivers' : 'webhooks on: another node delivers',
    )
  }

  /** Starts the dispatcher and the unread detector: this node holds the lease. */
  async #startDelivering(store: Store, log: StreamWebhookLog): Promise<void> {
    const { settings, logger, url, secret, registry } = this.#options
    this.#dispatcher ??= new WebhookDispatcher({
      url,
      secret,
      log,
      concurrency: settings.concurrency,
      timeoutMs: settings.timeoutMs,
      retryInitialDelayMs: settings.retryInitialDelayMs,
      retryMaxDelayMs: settings.retryMaxDelayMs,
      maxAgeMs: settings.maxAgeMs,
      logger,
      registry,
    })
    this.#dispatcher.start()
    // What the previous holder (or this node before a restart) recorded is not recorded again.
    this.#detector = new UnreadDetector({
      source: store,
      record: (event) => log.append(event),
      delayMs: settings.unreadDelayMs,
      recorded: await unreadIdsIn(log),
      logger,
    })
    this.#detector.start()
  }

  /** Stops detecting and delivering: the lease is lost or given up. */
  async #stopDelivering(): Promise<void> {
    const detector = this.#detector
    this.#detector = undefined
    await detector?.stop()
    await this.#dispatcher?.stop()
  }

  /**
   * Stops detecting and delivering (the cursor is saved past what was delivered; what was in
   * flight is sent again by the next holder), releases the lease so that another node takes over
   * at once, and stops following the log.
   */
  async stop(): Promise<void> {
    // Stops detecting and delivering if this node holds the lease, and releases it.
    await this.#lease?.stop()
    await this.#liveness?.stop()
    this.#log?.close()
  }

  async #record(event: WebhookEvent): Promise<void> {
    if (this.#log === undefined) throw new Error(`webhook log not open: ${event.type} lost`)
    await this.#log.append(event)
  }
}

/** Ids of the `unread` events retained in the log. */
async function unreadIdsIn(log: StreamWebhookLog): Promise<string[]> {
  const ids: string[] = []
  let after = 0
  for (;;) {
    const entries = await log.read(after, 1_000)
    for (const { event } of entries) if (event.type === 'unread') ids.push(event.id)
    const last = entries.at(-1)
    if (last === undefined) return ids
    after = last.offset
  }
}
