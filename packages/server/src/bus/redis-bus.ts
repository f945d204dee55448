import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { type Bus, type BusMessage, decodeBusMessage, encodeBusMessage } from './bus.js'

/** Options of `RedisBus`. */
export interface RedisBusOptions {
  /** `redis://[:password@]host:6379[/db]` or `rediss://…` (TLS). */
  readonly url: string
  /** Pub/sub channel; deployments sharing one Redis need different channels. */
  readonly channel?: string | undefined
  readonly logger?: Logger | undefined
}

/** Defaults of `RedisBusOptions`. */
export const redisBusDefaults = {
  channel: 'seqline',
} as const

/**
 * A `Bus` over Redis pub/sub (ioredis): one connection publishes, one subscribes. Redis pub/sub is
 * fire-and-forget — messages published while a node is disconnected are lost for it — which the
 * bus contract allows: the engine heals from the store, at once after a reconnect. Publishing never
 * queues while Redis is down (the offline queue is off), so an outage costs no memory.
 *
 * @example
 * const bus = new RedisBus({ url: 'redis://127.0.0.1:6379' })
 * const server = await createServer({ store: 'postgres://…', bus, auth: 'dev' })
 */
export class RedisBus implements Bus {
  readonly #options: RedisBusOptions
  readonly #channel: string
  readonly #listeners = new Set<(message: BusMessage) => void>()
  readonly #reconnectListeners = new Set<() => void>()
  #publisher: Redis | undefined
  #subscriber: Redis | undefined
  #closed = false

  constructor(options: RedisBusOptions) {
    this.#options = options
    this.#channel = options.channel ?? redisBusDefaults.channel
  }

  async init(): Promise<void> {
    if (this.#publisher !== undefined) return
    const common = {
      lazyConnect: true,
      // Reconnect quickly and forever: a Redis restart must not take the node out of the cluster.
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1_000),
      maxRetriesPerRequest: 1,
    }
    // Named, so that an operator finds them in CLIENT LIST.
    const publisher = new Redis(this.#options.url, {
      ...common,
      enableOfflineQueue: false,
      connectionName: `seqline-pub:${this.#channel}`,
    })
    const subscriber = new Redis(this.#options.url, {
      ...common,
      autoResubscribe: true,
      connectionName: `seqline-sub:${this.#channel}`,
    })
    for (const connection of [publisher, subscriber]) {
      // ioredis reports connection errors as events; they must not crash the process.
      connection.on('error', (err: Error) =>
        this.#options.logger?.debug({ err }, 'redis bus error'),
      )
    }
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return
      const message = decodeBusMessage(text)
      if (message === undefined) return
      for (const listener of [...this.#listeners]) listener(message)
    })
    await publisher.connect()
    await subscriber.connect()
    await subscriber.subscribe(this.#channel)
    // Every later 'ready' is a reconnect: whatever was published meanwhile was lost for us.
    subscriber.on('ready', () => {
      if (this.#closed) return
      this.#options.logger?.info('redis bus reconnected')
      for (const listener of [...this.#reconnectListeners]) listener()
    })
    this.#publisher = publisher
    this.#subscriber = subscriber
  }

  publish(message: BusMessage): void {
    const publisher = this.#publisher
    if (publisher === undefined || this.#closed || publisher.status !== 'ready') return
    publisher.publish(this.#channel, encodeBusMessage(message)).catch((err: unknown) => {
      this.#options.logger?.debug({ err }, 'redis bus publish dropped')
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
    const connections = [this.#publisher, this.#subscriber]
    this.#publisher = undefined
    this.#subscriber = undefined
    await Promise.all(
      connections.map(async (c) => {
        if (c === undefined) return
        await c.quit().catch(() => c.disconnect())
      }),
    )
  }
}
