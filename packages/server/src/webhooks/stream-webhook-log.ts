import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { hashSecret } from '../engine/client-secret.js'
import type { CommittedMessage } from '../engine/committed-message.js'
import type { Engine } from '../engine/engine.js'
import type { Follower } from '../engine/follower.js'
import type { StreamReader } from '../engine/stream-reader.js'
import { JSON_CONTENT_TYPE, type Store } from '../store/store.js'
import type { WebhookEvent } from './webhook-event.js'
import type { WebhookLog, WebhookLogEntry } from './webhook-log.js'

// The webhook log of a server: an internal stream in the server's own store, appended to through
// the engine's group commit like any message, so an event is as durable as the operation that
// caused it and survives a crash (kill -9) until it is delivered.
//
//   stream `$webhooks`   one JSON event per message; offsets are the log's offsets
//   client `$webhooks`   a reserved client whose cursor on that stream is the dispatcher's cursor
//
// Neither name can be addressed from outside: `$` is outside the stream-name pattern every door
// checks (WebSocket frames, HTTP paths, the backend API), and outside the user-id pattern, so no
// user owns or acks as the reserved client. Every node of a deployment appends to the one stream;
// the node that delivers (the holder of the `webhooks` lease) reads it with the one shared
// cursor, which the next holder resumes from, and waits for new events on the stream's hub, which
// commits of other nodes reach through the bus.

/** The internal stream the webhook events are kept in. */
export const WEBHOOK_STREAM = '$webhooks'
/** The reserved client whose cursor on {@link WEBHOOK_STREAM} is the dispatcher's cursor. */
export const WEBHOOK_CLIENT_ID = '$webhooks'
/** Owner of the reserved client: no authenticated user can have this id. */
const SYSTEM_USER = '$seqline'
/** How often the reserved client is marked seen, so client garbage collection never takes it. */
const TOUCH_INTERVAL_MS = 3_600_000

/** Options of {@link StreamWebhookLog.open}. */
export interface StreamWebhookLogOptions {
  readonly engine: Engine
  readonly store: Store
  /** How long events are kept (retention of the stream); at least the dispatcher's maximum age. */
  readonly retentionMs: number
  readonly logger: Logger
  readonly now?: (() => number) | undefined
}

/**
 * The {@link WebhookLog} of a running server, on the internal stream `$webhooks` (see above).
 *
 * @example
 * const log = await StreamWebhookLog.open({ engine, store, retentionMs: 2 * DAY_MS, logger })
 * await log.append(createWebhookEvent('stream.deleted', { stream: 'room:x', reason: 'deleted' }))
 * new WebhookDispatcher({ url, secret, log }).start()
 */
export class StreamWebhookLog implements WebhookLog {
  readonly #options: StreamWebhookLogOptions
  readonly #now: () => number
  readonly #waiters = new Set<() => void>()
  #epoch: string
  #head: number
  #reader: StreamReader | undefined
  #touchTimer: NodeJS.Timeout | undefined
  #closed = false

  private constructor(options: StreamWebhookLogOptions, epoch: string, head: number) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#epoch = epoch
    this.#head = head
  }

  /** Creates the stream and the reserved client if needed and starts following the stream. */
  static async open(options: StreamWebhookLogOptions): Promise<StreamWebhookLog> {
    const { engine } = options
    const now = options.now ?? Date.now
    const created = await engine.streams.create({
      name: WEBHOOK_STREAM,
      contentType: JSON_CONTENT_TYPE,
      retention: { maxAgeMs: options.retentionMs },
    })
    if (created.kind === 'rejected') {
      throw new Error(`Cannot create the webhook log: ${created.message}`)
    }
    // `conflict`: kept with another retention by an earlier configuration; it is still the log.
    const record = created.stream
    const log = new StreamWebhookLog(options, record.epoch, record.head)
    await log.#ensureClient(now())
    const follower = log.#follower()
    const reader = await engine.streams.follow(record, record.head, follower, {
      caughtUp: () => log.#advanced(),
      advanced: () => log.#advanced(),
      delivered: () => undefined,
      truncated: async () => undefined,
      failed: (err) => options.logger.error({ err }, 'webhook log: following the stream failed'),
      ended: () => {
        options.logger.error('webhook log: the internal stream was deleted')
        log.#wakeAll()
      },
    })
    log.#reader = reader
    reader.start()
    log.#touchTimer = setInterval(() => {
      log.#ensureClient(now()).catch((err: unknown) => {
        options.logger.error({ err }, 'webhook log: cannot mark its cursor client seen')
      })
    }, TOUCH_INTERVAL_MS)
    log.#touchTimer.unref()
    return log
  }

  /** Appends `event` (one group commit with whatever else is being written); resolves its offset. */
  async append(event: WebhookEvent): Promise<number> {
    const result = await this.#options.engine.streams.append({
      stream: WEBHOOK_STREAM,
      payloads: [Buffer.from(JSON.stringify(event))],
      from: null,
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
    })
    if (result.kind !== 'appended') {
      const why = result.kind === 'rejected' ? result.message : 'a duplicate'
      throw new Error(`The webhook event ${event.id} was not recorded: ${why}`)
    }
    const offset = result.messages.at(-1)?.offset ?? result.head
    this.#seen(result.epoch, offset)
    return offset
  }

  async read(after: number, limit: number): Promise<WebhookLogEntry[]> {
    const messages = await this.#options.engine.streams.read(WEBHOOK_STREAM, after, limit)
    const entries: WebhookLogEntry[] = []
    for (const message of messages) {
      try {
        entries.push({
          offset: message.offset,
          event: JSON.parse(Buffer.from(message.data).toString('utf8')) as WebhookEvent,
        })
      } catch (err) {
        // Only the engine writes this stream; a message that is no event is skipped, not retried.
        this.#options.logger.error({ err, offset: message.offset }, 'webhook log: unreadable event')
      }
    }
    return entries
  }

  waitForMore(after: number, signal: AbortSignal): Promise<void> {
    if (this.#head > after || signal.aborted || this.#closed) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        if (this.#head <= after && !signal.aborted && !this.#closed) return
        this.#waiters.delete(wake)
        signal.removeEventListener('abort', wake)
        resolve()
      }
      this.#waiters.add(wake)
      signal.addEventListener('abort', wake, { once: true })
    })
  }

  async loadCursor(): Promise<number> {
    const cursors = await this.#options.store.getCursors(WEBHOOK_CLIENT_ID)
    const cursor = cursors.find((c) => c.stream === WEBHOOK_STREAM)
    // A cursor of another epoch points into a history of the stream that no longer exists.
    return cursor !== undefined && cursor.epoch === this.#epoch ? cursor.offset : 0
  }

  async saveCursor(offset: number): Promise<void> {
    const now = this.#now()
    await this.#options.store.saveCursors(
      [{ clientId: WEBHOOK_CLIENT_ID, stream: WEBHOOK_STREAM, epoch: this.#epoch, offset }],
      now,
    )
  }

  /** Offset of the last event this node knows of. */
  get head(): number {
    return this.#head
  }

  /** Stops following the stream; waits end at once. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#touchTimer)
    if (this.#reader !== undefined) this.#options.engine.streams.unfollow(this.#reader)
    this.#wakeAll()
  }

  /** Creates the reserved client if it is missing, else marks it seen. */
  async #ensureClient(now: number): Promise<void> {
    const { store } = this.#options
    if ((await store.getClient(WEBHOOK_CLIENT_ID)) !== undefined) {
      await store.touchClients([WEBHOOK_CLIENT_ID], now)
      return
    }
    await store
      .createClient({
        id: WEBHOOK_CLIENT_ID,
        userId: SYSTEM_USER,
        // A hash of a secret nobody knows: no `hello` can ever present it.
        secretHash: hashSecret(randomBytes(32).toString('base64url')),
        createdAt: now,
        lastSeenAt: now,
      })
      .catch(async (err: unknown) => {
        // Another node created it at the same moment.
        if ((await store.getClient(WEBHOOK_CLIENT_ID)) === undefined) throw err
      })
  }

  #follower(): Follower {
    return {
      id: 'webhook-log',
      get closed() {
        return false
      },
      bufferedAmount: 0,
      whenDrained: () => Promise.resolve(),
      batch: (write) => write(),
      message: (message: CommittedMessage) => this.#seen(message.epoch, message.offset),
      event: () => undefined,
    }
  }

  /** The stream's hub moved (a commit here or on another node). */
  #advanced(): void {
    const hub = this.#reader?.hub
    if (hub !== undefined) this.#seen(hub.epoch, hub.head)
  }

  #seen(epoch: string, head: number): void {
    if (epoch !== this.#epoch) {
      this.#epoch = epoch
      this.#head = 0
    }
    if (head <= this.#head) return
    this.#head = head
    for (const wake of [...this.#waiters]) wake()
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake()
  }
}
