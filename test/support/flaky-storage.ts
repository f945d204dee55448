import { MemoryStorage, type Storage } from '@seqline/client'

/**
 * A client {@link Storage} in memory whose writes (`set`, `delete`) can be made to fail: a full disk,
 * a quota error, a closed IndexedDB. Reads always work.
 *
 * @example
 * const storage = new FlakyStorage()
 * storage.failNextWrites(3) // the next three writes reject, the fourth succeeds
 */
export class FlakyStorage implements Storage {
  readonly #inner = new MemoryStorage()
  #failures = 0
  /** Writes that were refused so far. */
  refused = 0

  /** Makes the next `n` writes reject. */
  failNextWrites(n: number): void {
    this.#failures = n
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.#inner.get<T>(key)
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#refuse()
    await this.#inner.set(key, value)
  }

  async delete(key: string): Promise<void> {
    this.#refuse()
    await this.#inner.delete(key)
  }

  keys(prefix: string): Promise<string[]> {
    return this.#inner.keys(prefix)
  }

  #refuse(): void {
    if (this.#failures === 0) return
    this.#failures -= 1
    this.refused += 1
    throw new Error('storage unavailable (quota exceeded)')
  }
}
