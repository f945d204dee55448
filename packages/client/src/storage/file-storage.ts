import type { Storage } from './storage.js'

/**
 * Node storage: one JSON file per key in a directory. Each write goes to a temporary file that is
 * then renamed over the old one, so a crash leaves either the old or the new value, never half.
 * Writes to one key are serialised. The implementation (and `node:fs`) is loaded on first use, so
 * browser bundles never carry it.
 *
 * @example
 * createClient({ url, getToken, storage: new FileStorage('./.seqline') })
 */
export class FileStorage implements Storage {
  readonly #directory: string
  #files: Promise<Storage> | undefined

  constructor(directory: string) {
    this.#directory = directory
  }

  // Every call goes through the same promise: callbacks run in call order, so do the operations.
  async get<T>(key: string): Promise<T | undefined> {
    return (await this.#open()).get<T>(key)
  }

  async set(key: string, value: unknown): Promise<void> {
    return (await this.#open()).set(key, value)
  }

  async delete(key: string): Promise<void> {
    return (await this.#open()).delete(key)
  }

  async keys(prefix: string): Promise<string[]> {
    return (await this.#open()).keys(prefix)
  }

  #open(): Promise<Storage> {
    this.#files ??= import('./file-directory.js').then(
      ({ FileDirectory }) => new FileDirectory(this.#directory),
    )
    return this.#files
  }
}
