import type { Storage } from './storage.js'

/**
 * Storage in memory: state survives reconnects but not a restart. Values are copied in and out
 * so callers cannot alias stored state. Share one instance between two clients to simulate a reload.
 */
export class MemoryStorage implements Storage {
  readonly #data = new Map<string, string>()

  async get<T>(key: string): Promise<T | undefined> {
    const text = this.#data.get(key)
    return text === undefined ? undefined : (JSON.parse(text) as T)
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#data.set(key, JSON.stringify(value))
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(key)
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.#data.keys()].filter((key) => key.startsWith(prefix))
  }
}
