import type { Position } from '@seqline/protocol'
import type { Storage } from './storage/storage.js'
import type { StorageWriter } from './storage-writer.js'

/**
 * Persists each stream's last processed position, write-behind through the client's
 * {@link StorageWriter}: the latest position of a stream wins, so a fast stream costs one write per
 * storage round trip rather than one per message, and a failed write is retried with backoff.
 * After a crash the stored position lags by at most that one round; those messages are delivered
 * again to the next instance (apps that need exactly-once across crashes store the position with
 * their own state and pass it as `from`).
 */
export class PositionStore {
  readonly #storage: Storage
  readonly #writer: StorageWriter
  readonly #latest = new Map<string, Position>()
  #namespace = ''
  #markReady!: () => void
  /** Resolves once the namespace is known (the identity is loaded). */
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve))

  constructor(storage: Storage, writer: StorageWriter) {
    this.#storage = storage
    this.#writer = writer
  }

  /** Sets the namespace; with `rewrite`, every known position is written under it again. */
  use(namespace: string, rewrite = false): void {
    this.#namespace = namespace
    this.#markReady()
    if (rewrite) for (const [stream, position] of this.#latest) this.save(stream, position)
  }

  async load(stream: string): Promise<Position | undefined> {
    await this.#ready
    const known = this.#latest.get(stream)
    if (known !== undefined) return known
    const stored = await this.#storage.get<Position>(this.#key(stream))
    if (stored !== undefined && !this.#latest.has(stream)) this.#latest.set(stream, stored)
    return this.#latest.get(stream)
  }

  save(stream: string, position: Position): void {
    this.#latest.set(stream, position)
    this.#writer.put([{ key: this.#key(stream), value: position }])
  }

  #key(stream: string): string {
    return `${this.#namespace}pos/${stream}`
  }
}
