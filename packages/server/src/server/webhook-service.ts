import type { Registry } from 'prom-client'
import { checkSigningSecret } from '../auth/hmac-signature.js'
import type { Engine } from '../engine/engine.js'
import type { EngineLifecycle } from '../engine/engine-lifecycle.js'
import { PeriodicJob } from '../engine/periodic-job.js'
import type { Logger } from '../observability/logger.js'
import type { ServerSettings } from '../settings/server-settings.js'
import type { Store } from '../store/store.js'
import { StreamWebhookLog } from '../webhooks/stream-webhook-log.js'
import { UnreadDetector, unreadIntervalMs } from '../webhooks/unread-detector.js'
import { WebhookDispatcher, parseWebhookUrl } from '../webhooks/webhook-dispatcher.js'
import { type WebhookEvent, createWebhookEvent } from '../webhooks/webhook-event.js'

// Webhooks in a running server (`--webhook-url`):
//
//   engine ──lifecycle──▶ StreamWebhookLog ($webhooks, durable) ──▶ WebhookDispatcher ──▶ receiver
//   UnreadDetector (periodic store query) ──┘
//
// The engine reports clients registered and forgotten and streams deleted; each report is an
// event appended to the log before the operation answers. The unread detector adds `unread`
// events. Every node records its own events in the one log and every node dispatches from it
// with the one shared cursor: an event may reach the receiver from two nodes, with the same id.

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

/**
 * Records lifecycle and unread events in the webhook log and delivers them. Built before the
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
   * Opens the log and starts delivering, marking connected clients seen, detecting unread. On a
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
    const { settings, logger, url, secret, registry } = this.#options
    const log = await StreamWebhookLog.open({
      engine,
      store,
      // Kept twice as long as an event may be retried: an event is given up before it is trimmed.
      retentionMs: 2 * settings.maxAgeMs,
      logger,
    })
    this.#log = log
    this.#dispatcher = new WebhookDispatcher({
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
    // Every node keeps "last seen" of its connected clients recent, whichever node detects.
    this.#liveness = new PeriodicJob(
      'webhook-liveness',
      unreadIntervalMs(settings.unreadDelayMs),
      () => engine.clients.touchConnected(Date.now()),
      logger,
    )
    this.#liveness.start()
    this.#detector = new UnreadDetector({
      source: store,
      record: (event) => log.append(event),
      delayMs: settings.unreadDelayMs,
      recorded: await unreadIdsIn(log),
      logger,
    })
    this.#detector.start()
    logger.info({ url: `${new URL(url).origin}/…` }, 'webhooks on')
  }

  /**
   * Stops detecting and delivering (the cursor is saved past what was delivered; what was in
   * flight is sent again on the next start) and stops following the log.
   */
  async stop(): Promise<void> {
    await this.#detector?.stop()
    await this.#liveness?.stop()
    await this.#dispatcher?.stop()
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
