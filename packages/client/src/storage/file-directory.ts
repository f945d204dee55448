import type { Storage } from './storage.js'

type Fs = typeof import('node:fs/promises')

/**
 * What {@link FileStorage} does, loaded on its first use: one JSON file per key in a directory.
 * Each write goes to a temporary file that is then renamed over the old one, so a crash leaves
 * either the old or the new value, never half. Writes to one key are serialised.
 */
export class FileDirectory implements Storage {
  readonly #dir: string
  #fs: Promise<Fs> | undefined
  #ready: Promise<void> | undefined
  readonly #writes = new Map<string, Promise<void>>()
  #tmpCounter = 0

  constructor(directory: string) {
    this.#dir = directory.replace(/[\\/]+$/, '')
  }

  async get<T>(key: string): Promise<T | undefined> {
    const fs = await this.#open()
    await this.#writes.get(key)
    try {
      return JSON.parse(await fs.readFile(this.#path(key), 'utf8')) as T
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined
      throw error
    }
  }

  set(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value)
    return this.#serialise(key, async (fs) => {
      const tmp = `${this.#dir}/.tmp-${process.pid}-${this.#tmpCounter++}`
      await fs.writeFile(tmp, text)
      await fs.rename(tmp, this.#path(key))
    })
  }

  delete(key: string): Promise<void> {
    return this.#serialise(key, (fs) => fs.rm(this.#path(key), { force: true }))
  }

  async keys(prefix: string): Promise<string[]> {
    const fs = await this.#open()
    await Promise.all(this.#writes.values())
    const names = await fs.readdir(this.#dir)
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => decodeURIComponent(name.slice(0, -'.json'.length)))
      .filter((key) => key.startsWith(prefix))
  }

  #serialise(key: string, write: (fs: Fs) => Promise<void>): Promise<void> {
    const previous = this.#writes.get(key) ?? Promise.resolve()
    const next = previous
      .catch(() => {})
      .then(async () => write(await this.#open()))
      .finally(() => {
        if (this.#writes.get(key) === next) this.#writes.delete(key)
      })
    this.#writes.set(key, next)
    return next
  }

  #path(key: string): string {
    return `${this.#dir}/${encodeURIComponent(key)}.json`
  }

  async #open(): Promise<Fs> {
    this.#fs ??= import('node:fs/promises')
    const fs = await this.#fs
    this.#ready ??= fs.mkdir(this.#dir, { recursive: true }).then(() => {})
    await this.#ready
    return fs
  }
}
