import pg from 'pg'
import type { Logger } from 'pino'
import { commitAnnouncementDefaults, recordBusChannel } from '../postgres/commit-announcement.js'
import { postgresClientConfig } from '../postgres/postgres-connection.js'
import { quoteIdent } from '../postgres/sql-identifier.js'
import { type Bus, type BusMessage, decodeBusMessage, encodeBusMessage } from './bus.js'

/** Options of `PostgresBus`. */
export interface PostgresBusOptions {
  /** The database to LISTEN/NOTIFY on, normally the store's. */
  readonly connectionString: string
  /** NOTIFY channel; deployments sharing one database (different schemas) need different ones. */
  readonly channel?: string | undefined
  /**
   * The store whose database this is, when it is (`--bus postgres`): on every connect the bus
   * records its channel in the store's `seqline_settings`, so that `seqline_publish` announces
   * commits made in SQL where the nodes listen.
   */
  readonly store?: { readonly schema?: string | undefined } | undefined
  readonly logger?: Logger | undefined
}

/** Defaults of `PostgresBusOptions`. */
export const postgresBusDefaults = {
  channel: commitAnnouncementDefaults.channel,
  /** PostgreSQL refuses NOTIFY payloads from 8000 bytes on. */
  maxPayloadBytes: 7_900,
  reconnectMs: { min: 100, max: 2_000 },
  /** NOTIFYs waiting for the connection beyond which new ones are dropped. */
  maxQueued: 10_000,
} as const

/**
 * A `Bus` over PostgreSQL LISTEN/NOTIFY: no other infrastructure than the store's database. One
 * dedicated connection both LISTENs and NOTIFYs; it reconnects with backoff after a failure and
 * reports the reconnect (the engine heals from the store). NOTIFY is delivered on commit only, so
 * `seqline_publish` (and `publishInTransaction`) announce a message inside the application's
 * transaction on this same channel (postgres/commit-announcement.ts). Payloads are limited to ~8 kB: larger signals are dropped (signals are ephemeral, G6).
 *
 * @example
 * const bus = new PostgresBus({ connectionString: 'postgres://seqline@db/seqline' })
 */
export class PostgresBus implements Bus {
  readonly #options: PostgresBusOptions
  readonly #channel: string
  readonly #listeners = new Set<(message: BusMessage) => void>()
  readonly #reconnectListeners = new Set<() => void>()
  #client: pg.Client | undefined
  #ready = false
  #closed = false
  #attempt = 0
  /** The last NOTIFY queued on the connection, and how many wait. */
  #tail: Promise<void> = Promise.resolve()
  #queued = 0
  #timer: NodeJS.Timeout | undefined

  constructor(options: PostgresBusOptions) {
    this.#options = options
    this.#channel = options.channel ?? postgresBusDefaults.channel
  }

  /** The NOTIFY channel. */
  get channel(): string {
    return this.#channel
  }

  async init(): Promise<void> {
    if (this.#client !== undefined) return
    await this.#connect()
  }

  publish(message: BusMessage): void {
    const client = this.#client
    if (client === undefined || !this.#ready || this.#closed) return
    const payload = encodeBusMessage(message)
    if (Buffer.byteLength(payload) > postgresBusDefaults.maxPayloadBytes) {
      this.#options.logger?.debug({ kind: message.kind }, 'postgres bus payload too large, dropped')
      return
    }
    // One query at a time on the connection (node-postgres deprecates overlapping queries); a
    // backlog past the bound is dropped — the heal job repairs, memory stays bounded (G6).
    if (this.#queued >= postgresBusDefaults.maxQueued) return
    this.#queued += 1
    this.#tail = this.#tail
      .then(() => client.query('SELECT pg_notify($1, $2)', [this.#channel, payload]))
      .then(
        () => undefined,
        (err: unknown) => this.#options.logger?.debug({ err }, 'postgres bus publish dropped'),
      )
      .finally(() => {
        this.#queued -= 1
      })
  }

  subscribe(listener: (message: BusMessage) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener)
    return () => this.#reconnectListeners.delete(listener)
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const client = this.#client
    this.#client = undefined
    this.#ready = false
    await client?.end().catch(() => undefined)
  }

  async #connect(): Promise<void> {
    // Named, so that an operator finds it in pg_stat_activity (PostgreSQL keeps 63 bytes).
    const client = new pg.Client(
      postgresClientConfig({
        connectionString: this.#options.connectionString,
        applicationName: `seqline-bus:${this.#channel}`,
      }),
    )
    client.on('notification', (n: pg.Notification) => {
      if (n.channel !== this.#channel || n.payload === undefined) return
      const message = decodeBusMessage(n.payload)
      if (message === undefined) return
      for (const listener of [...this.#listeners]) listener(message)
    })
    const lost = (err?: unknown): void => {
      if (this.#client !== client) return
      this.#client = undefined
      this.#ready = false
      if (err !== undefined) this.#options.logger?.warn({ err }, 'postgres bus connection lost')
      client.end().catch(() => undefined)
      this.#scheduleReconnect()
    }
    client.on('error', lost)
    client.on('end', () => lost())
    this.#client = client
    try {
      await client.connect()
      // LISTEN takes an identifier, not a parameter.
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`)
      const store = this.#options.store
      if (store !== undefined) {
        // Not fatal: without it, SQL publishes reach the nodes at their next heal round.
        await recordBusChannel(client, this.#channel, store.schema).catch((err: unknown) =>
          this.#options.logger?.warn({ err }, 'postgres bus could not record its channel'),
        )
      }
      this.#tail = Promise.resolve()
    } catch (err) {
      if (this.#client === client) this.#client = undefined
      await client.end().catch(() => undefined)
      throw err
    }
    this.#ready = true
    const reconnected = this.#attempt > 0
    this.#attempt = 0
    if (reconnected) for (const listener of [...this.#reconnectListeners]) listener()
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer !== undefined) return
    const { min, max } = postgresBusDefaults.reconnectMs
    const delay = Math.min(max, min * 2 ** this.#attempt)
    this.#attempt += 1
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#closed) return
      this.#connect().catch((err: unknown) => {
        this.#options.logger?.debug({ err }, 'postgres bus reconnect failed')
        this.#scheduleReconnect()
      })
    }, delay)
    this.#timer.unref()
  }
}
