import { IndexedDbStorage } from './indexeddb-storage.js'
import type { Storage } from './storage.js'

/**
 * Storage in the tab's `sessionStorage`: survives a reload, dies with the tab, and is *copied* when a
 * tab is duplicated — which is why the server, not the browser, decides whether an id is still in
 * use (DESIGN §7). Holds only the small identity record.
 */
export class SessionStorageStorage implements Storage {
  readonly #prefix: string

  constructor(prefix = 'seqline:') {
    this.#prefix = prefix
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = sessionStorage.getItem(this.#prefix + key)
    return text === null ? undefined : (JSON.parse(text) as T)
  }

  async set(key: string, value: unknown): Promise<void> {
    sessionStorage.setItem(this.#prefix + key, JSON.stringify(value))
  }

  async delete(key: string): Promise<void> {
    sessionStorage.removeItem(this.#prefix + key)
  }

  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = []
    for (let i = 0; i < sessionStorage.length; i += 1) {
      const key = sessionStorage.key(i)
      if (key?.startsWith(this.#prefix + prefix)) keys.push(key.slice(this.#prefix.length))
    }
    return keys
  }
}

/** Key of the identity record, which every client keeps under this exact key. */
export const IDENTITY_KEY = 'identity'

/**
 * The browser default: the identity record (client id, secret) per tab in `sessionStorage`, and
 * everything else (positions, outbox) in IndexedDB under that tab's namespace.
 */
export function browserStorage(databaseName = 'seqline'): Storage {
  const session = new SessionStorageStorage(`${databaseName}:`)
  const idb = new IndexedDbStorage(databaseName)
  const pick = (key: string): Storage => (key === IDENTITY_KEY ? session : idb)
  return {
    get: (key) => pick(key).get(key),
    set: (key, value) => pick(key).set(key, value),
    delete: (key) => pick(key).delete(key),
    keys: async (prefix) => [
      ...(IDENTITY_KEY.startsWith(prefix) ? await session.keys(IDENTITY_KEY) : []),
      ...(await idb.keys(prefix)).filter((key) => key !== IDENTITY_KEY),
    ],
  }
}
