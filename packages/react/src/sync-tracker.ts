/**
 * Which streams followed by `useStream` have not completed their (re)subscribe yet. The provider
 * owns one; `useConnectionState` reads it to tell "open" from "open but still catching up".
 */
export class SyncTracker {
  readonly #syncing = new Set<string>()
  readonly #listeners = new Set<() => void>()

  /** Number of streams still catching up. */
  get size(): number {
    return this.#syncing.size
  }

  /** Marks `key` as catching up (`true`) or caught up (`false`). */
  set(key: string, syncing: boolean): void {
    const had = this.#syncing.has(key)
    if (had === syncing) return
    if (syncing) this.#syncing.add(key)
    else this.#syncing.delete(key)
    for (const listener of [...this.#listeners]) listener()
  }

  /** Calls `listener` after every change; returns the disposer. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }
}
