import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { SIGNATURE_HEADER, checkSigningSecret, signBody } from '../auth/hmac-signature.js'
import { retryDelay } from './retry-delay.js'
import type { WebhookEvent } from './webhook-event.js'
import type { WebhookLog } from './webhook-log.js'
import { type WebhookMetrics, createWebhookMetrics } from './webhook-metrics.js'

// Delivers the events of a WebhookLog to the application's backend, at least once each.
//
//          log:  … 41 42 43 44 45 46 47 48 …
//                    ▲  └─────window─────┘ ▲
//               cursor    in flight or     read up to here
//                         waiting to retry
//
// Up to `concurrency` events are in the window at once, each delivered independently: a failure
// is retried after an exponential, fully jittered delay until it succeeds or the event is older
// than `maxAgeMs` (then it is given up, logged and counted). The cursor advances only past the
// lowest events of the window that are done — delivered or given up — so after a crash or a stop
// nothing undelivered is skipped; what was in flight is sent again (receivers deduplicate by id).

/** Options of {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  /** The receiver, `https://…` (or `http://` on a private network). */
  readonly url: string
  /** Shared HMAC secret, at least 32 characters; never from the command line. */
  readonly secret: string
  readonly log: WebhookLog
  /** Events being delivered (or waiting for a retry) at once. */
  readonly concurrency?: number | undefined
  /** How long one attempt may take. */
  readonly timeoutMs?: number | undefined
  /** Ceiling of the first retry delay; it doubles with every attempt… */
  readonly retryInitialDelayMs?: number | undefined
  /** … up to this. */
  readonly retryMaxDelayMs?: number | undefined
  /** An event that still fails this long after it was created is given up. */
  readonly maxAgeMs?: number | undefined
  readonly logger?: Logger | undefined
  /** Registry for the `seqline_webhook_*` metrics (the server's, for `/metrics`). */
  readonly registry?: Registry | undefined
  /** Random source of the jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined
  /** Clock, ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined
}

/** Defaults of {@link WebhookDispatcherOptions}. */
export const webhookDispatcherDefaults = {
  concurrency: 8,
  timeoutMs: 10_000,
  retryInitialDelayMs: 1_000,
  retryMaxDelayMs: 5 * 60_000,
  maxAgeMs: 24 * 3600_000,
} as const

/** How the delivery of one event ended. */
type DeliveryOutcome = 'delivered' | 'given-up' | 'stopped'

/** One event of the window. */
interface Slot {
  readonly offset: number
  done: boolean
}

/** How long to wait before reading the log again after it failed. */
const LOG_RETRY_MS = 1_000

/**
 * Delivers webhook events from a {@link WebhookLog}; see the diagram above.
 *
 * @example
 * const dispatcher = new WebhookDispatcher({ url, secret, log, logger, registry })
 * dispatcher.start()
 * // …
 * await dispatcher.stop()
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions
  readonly #settings: { -readonly [K in keyof typeof webhookDispatcherDefaults]: number }
  readonly #url: URL
  readonly #metrics: WebhookMetrics | undefined
  readonly #random: () => number
  readonly #now: () => number
  readonly #window: Slot[] = []
  readonly #tasks = new Set<Promise<void>>()
  #stop = new AbortController()
  #running: Promise<void> | undefined
  /** Wakes the loop when a delivery ends. */
  #wake: () => void = () => undefined
  #cursor = 0
  #saving: Promise<void> = Promise.resolve()

  constructor(options: WebhookDispatcherOptions) {
    checkSigningSecret(options.secret, 'webhook secret')
    this.#url = parseWebhookUrl(options.url)
    this.#options = options
    this.#settings = {
      concurrency: options.concurrency ?? webhookDispatcherDefaults.concurrency,
      timeoutMs: options.timeoutMs ?? webhookDispatcherDefaults.timeoutMs,
      retryInitialDelayMs:
        options.retryInitialDelayMs ?? webhookDispatcherDefaults.retryInitialDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? webhookDispatcherDefaults.retryMaxDelayMs,
      maxAgeMs: options.maxAgeMs ?? webhookDispatcherDefaults.maxAgeMs,
    }
    if (!Number.isSafeInteger(this.#settings.concurrency) || this.#settings.concurrency < 1) {
      throw new Error('Webhook concurrency must be a positive integer')
    }
    this.#metrics =
      options.registry === undefined ? undefined : createWebhookMetrics(options.registry)
    this.#random = options.random ?? Math.random
    this.#now = options.now ?? Date.now
  }

  /** Starts delivering, from the log's saved cursor. Idempotent while running. */
  start(): void {
    if (this.#running !== undefined) return
    this.#stop = new AbortController()
    this.#running = this.#run(this.#stop.signal).catch((err: unknown) => {
      this.#options.logger?.error({ err }, 'webhook dispatcher stopped on an error')
    })
  }

  /**
   * Stops: aborts waits and attempts in flight, saves the cursor past what was delivered, and
   * resolves once nothing is left running. Events that were in flight are sent again on the next
   * start.
   */
  async stop(): Promise<void> {
    const running = this.#running
    if (running === undefined) return
    this.#stop.abort()
    this.#wake()
    await running
    await Promise.all(this.#tasks)
    await this.#saving
    this.#running = undefined
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { log } = this.#options
    this.#cursor = await log.loadCursor()
    this.#window.length = 0
    let readAfter = this.#cursor
    while (!signal.aborted) {
      const room = this.#settings.concurrency - this.#window.length
      if (room > 0) {
        let entries
        try {
          entries = await log.read(readAfter, room)
        } catch (err) {
          this.#options.logger?.error({ err }, 'cannot read the webhook log; retrying')
          await sleep(LOG_RETRY_MS, signal)
          continue
        }
        for (const { offset, event } of entries) {
          if (offset <= readAfter) continue
          readAfter = offset
          this.#begin(offset, event, signal)
        }
        if (entries.length > 0) continue
      }
      // `stop()` may have come while the log was read: its wake-up is gone, and an abort listener
      // added now would never fire.
      if (signal.aborted) break
      // Wait for a delivery to end (room in the window, the cursor may move) or, when there is
      // room, for new events.
      const waiting = new AbortController()
      const stopWaiting = (): void => waiting.abort()
      signal.addEventListener('abort', stopWaiting, { once: true })
      try {
        const ended = new Promise<void>((resolve) => (this.#wake = resolve))
        const more =
          this.#window.length < this.#settings.concurrency
            ? log.waitForMore(readAfter, waiting.signal)
            : new Promise<void>(() => undefined)
        await Promise.race([ended, more])
      } catch (err) {
        if (!signal.aborted) {
          this.#options.logger?.error({ err }, 'cannot wait on the webhook log; retrying')
          await sleep(LOG_RETRY_MS, signal)
        }
      } finally {
        waiting.abort()
        signal.removeEventListener('abort', stopWaiting)
      }
    }
  }

  #begin(offset: number, event: WebhookEvent, signal: AbortSignal): void {
    const slot: Slot = { offset, done: false }
    this.#window.push(slot)
    this.#metrics?.pending.inc()
    const task = this.#deliver(event, signal).then((outcome) => {
      this.#metrics?.pending.dec()
      this.#tasks.delete(task)
      if (outcome !== 'stopped') {
        slot.done = true
        this.#advance()
      }
      this.#wake()
    })
    this.#tasks.add(task)
  }

  /** Moves the cursor past the done events at the low end of the window. */
  #advance(): void {
    let cursor: number | undefined
    while (this.#window[0]?.done === true) cursor = (this.#window.shift() as Slot).offset
    if (cursor === undefined || cursor <= this.#cursor) return
    this.#cursor = cursor
    const target = cursor
    // Saves run one after the other, each with the newest cursor at its start.
    this.#saving = this.#saving.then(async () => {
      if (target < this.#cursor) return
      try {
        await this.#options.log.saveCursor(this.#cursor)
      } catch (err) {
        this.#options.logger?.error({ err }, 'cannot save the webhook cursor')
      }
    })
  }

  async #deliver(event: WebhookEvent, signal: AbortSignal): Promise<DeliveryOutcome> {
    const body = JSON.stringify(event)
    const created = Date.parse(event.createdAt)
    const firstAttempt = this.#now()
    const born = Number.isFinite(created) ? Math.min(created, firstAttempt) : firstAttempt
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) return 'stopped'
      const failure = await this.#attempt(event, body, signal)
      if (failure === undefined) {
        this.#metrics?.attempts.inc({ result: 'delivered' })
        return 'delivered'
      }
      if (signal.aborted) return 'stopped'
      if (this.#now() - born >= this.#settings.maxAgeMs) {
        this.#metrics?.attempts.inc({ result: 'given_up' })
        this.#options.logger?.warn(
          { eventId: event.id, type: event.type, attempts: attempt + 1, reason: failure },
          'webhook event given up: still undelivered past the maximum age',
        )
        return 'given-up'
      }
      this.#metrics?.attempts.inc({ result: 'failed' })
      this.#options.logger?.debug(
        { eventId: event.id, attempt: attempt + 1, reason: failure },
        'webhook delivery failed; retrying',
      )
      await sleep(retryDelay(attempt, this.#delays, this.#random), signal)
    }
  }

  get #delays(): { initialDelayMs: number; maxDelayMs: number } {
    return {
      initialDelayMs: this.#settings.retryInitialDelayMs,
      maxDelayMs: this.#settings.retryMaxDelayMs,
    }
  }

  /** One POST; `undefined` when the receiver answered 2xx, else why it failed. */
  async #attempt(
    event: WebhookEvent,
    body: string,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.#settings.timeoutMs)
    timer.unref()
    const onStop = (): void => controller.abort()
    signal.addEventListener('abort', onStop, { once: true })
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'seqline-webhooks',
          [SIGNATURE_HEADER]: signBody(this.#options.secret, body, Math.floor(this.#now() / 1000)),
          'Seqline-Event-Id': event.id,
          'Seqline-Event-Type': event.type,
        },
        body,
        signal: controller.signal,
        // A redirect would send the signed event somewhere else: a failure, like any non-2xx.
        redirect: 'manual',
      })
      await response.body?.cancel().catch(() => undefined)
      return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`
    } catch (err) {
      if (controller.signal.aborted && !signal.aborted) {
        return `no answer within ${this.#settings.timeoutMs} ms`
      }
      const cause = (err as { cause?: { code?: unknown } }).cause
      return typeof cause?.code === 'string' ? cause.code : String(err)
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onStop)
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * The receiver URL, checked: `http(s)://` only, without credentials (deliveries are signed).
 * Throws an `Error` saying what is wrong.
 */
export function parseWebhookUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error(`The webhook URL is not a URL: ${raw}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`The webhook URL must be http(s)://…, not ${url.protocol}`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error('The webhook URL must not carry credentials: deliveries are signed instead')
  }
  return url
}
