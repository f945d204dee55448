import type { CursorRecord } from '../store/store.js'

type Entry = Omit<CursorRecord, 'updatedAt'>

/**
 * Cumulative acks collected between flushes: per (client, stream) only the highest offset of the
 * newest epoch is kept, so a client acking every message costs one row write per flush interval.
 */
export class CursorBuffer {
  #pending = new Map<string, Entry>()

  record(entry: Entry): void {
    const key = `${entry.clientId}\u0000${entry.stream}`
    const current = this.#pending.get(key)
    if (current !== undefined && current.epoch === entry.epoch && current.offset >= entry.offset) {
      return
    }
    this.#pending.set(key, entry)
  }

  /** Takes everything recorded so far. */
  drain(): Entry[] {
    const entries = [...this.#pending.values()]
    this.#pending = new Map()
    return entries
  }

  get size(): number {
    return this.#pending.size
  }
}
