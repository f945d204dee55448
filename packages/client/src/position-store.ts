import type { Position } from '@seqline/protocol'
import type { Storage } from './storage/storage.js'

/**
 * Persists each stream's last processed position, write-behind: at most one write per stream in
 * flight, and the latest position wins, so a fast stream costs one write per storage round trip
 * rather than one per message. After a crash the stored position lags by at most that one write;
 * those messages are delivered again to the next instance (apps that need exactly-once across
 * crashes store the position with their own state and pass it as `from`).
 */
export class PositionStore {
  readonly #storage: Storage
  readonly #onError: (error: unknown) => void
  readonly #latest = new Map<string, Position>()
  readonly #dirty = new Set<string>()
  readonly #writing = new Map<string, Promise<void>>()
  #namespace = ''
  #markReady!: () => void
  /** Resolves once the namespace is known (the identity is loaded). */
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve))

  constructor(storage: Storage, onError: (error: unknown) => void) {
    this.#storage = storage
    this.#onError = onError
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
    this.#dirty.add(stream)
    if (!this.#writing.has(stream)) this.#write(stream)
  }

  /** Resolves when every position saved so far is in storage. */
  async flush(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing.values())
  }

  #write(stream: string): void {
    this.#dirty.delete(stream)
    const position = this.#latest.get(stream)
    const write = this.#storage
      .set(this.#key(stream), position)
      .catch(this.#onError)
      .finally(() => {
        this.#writing.delete(stream)
        if (this.#dirty.has(stream)) this.#write(stream)
      })
    this.#writing.set(stream, write)
  }

  #key(stream: string): string {
    return `${this.#namespace}pos/${stream}`
  }
}
