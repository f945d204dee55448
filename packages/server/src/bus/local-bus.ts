import type { Bus, BusMessage } from './bus.js'

/**
 * The default bus: in-process only. One node needs nothing else; several engines in one process
 * (tests, an embedded cluster) can share one `LocalBus` to talk as separate nodes would. Delivery
 * is asynchronous, like a network bus: `publish` never calls a listener synchronously.
 *
 * @example
 * const bus = new LocalBus()
 * const a = await createServer({ store, bus, auth: 'dev' })
 * const b = await createServer({ store, bus, auth: 'dev' })
 */
export class LocalBus implements Bus {
  readonly #listeners = new Set<(message: BusMessage) => void>()
  readonly #reconnectListeners = new Set<() => void>()

  async init(): Promise<void> {}

  publish(message: BusMessage): void {
    // Structured like a network hop: receivers never share the sender's objects.
    const copy = structuredClone(message)
    queueMicrotask(() => {
      for (const listener of [...this.#listeners]) listener(copy)
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

  /** Nothing to release: nodes sharing this bus detach through their disposers. */
  async close(): Promise<void> {}
}
