import type { Storage } from '@seqline/client'

// The client keeps its identity under this key; browsers put it in sessionStorage (per tab, copied
// when a tab is duplicated) and everything else in IndexedDB (shared by the tabs of an origin).
const IDENTITY_KEY = 'identity'

/**
 * Storage shaped like a browser's: the identity record per tab, everything else (positions,
 * outbox) shared. `reload` = a new client on the same TabStorage; `duplicate()` = a new tab whose
 * sessionStorage is a copy of this one's, over the same shared store.
 */
export class TabStorage implements Storage {
  constructor(
    private readonly tab = new Map<string, string>(),
    private readonly shared = new Map<string, string>(),
  ) {}

  /** The storage of a duplicated tab. */
  duplicate(): TabStorage {
    return new TabStorage(new Map(this.tab), this.shared)
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = this.#map(key).get(key)
    return text === undefined ? undefined : (JSON.parse(text) as T)
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#map(key).set(key, JSON.stringify(value))
  }

  async delete(key: string): Promise<void> {
    this.#map(key).delete(key)
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.tab.keys(), ...this.shared.keys()].filter((key) => key.startsWith(prefix))
  }

  #map(key: string): Map<string, string> {
    return key === IDENTITY_KEY ? this.tab : this.shared
  }
}
