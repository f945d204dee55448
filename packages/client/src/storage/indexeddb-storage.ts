import type { Storage } from './storage.js'

const STORE = 'kv'

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/**
 * Browser storage in one IndexedDB object store. Shared by the tabs of an origin; the client keys
 * its data by a per-tab identity, so tabs do not read each other's outbox.
 */
export class IndexedDbStorage implements Storage {
  readonly #name: string
  #db: Promise<IDBDatabase> | undefined

  constructor(databaseName = 'seqline') {
    this.#name = databaseName
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await request((await this.#store('readonly')).get(key))) as T | undefined
  }

  async set(key: string, value: unknown): Promise<void> {
    await request((await this.#store('readwrite')).put(value, key))
  }

  async delete(key: string): Promise<void> {
    await request((await this.#store('readwrite')).delete(key))
  }

  async keys(prefix: string): Promise<string[]> {
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`)
    const keys = await request((await this.#store('readonly')).getAllKeys(range))
    return keys.map(String)
  }

  async #store(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    this.#db ??= new Promise((resolve, reject) => {
      const open = indexedDB.open(this.#name, 1)
      open.onupgradeneeded = () => open.result.createObjectStore(STORE)
      open.onsuccess = () => resolve(open.result)
      open.onerror = () => reject(open.error)
    })
    return (await this.#db).transaction(STORE, mode).objectStore(STORE)
  }
}
