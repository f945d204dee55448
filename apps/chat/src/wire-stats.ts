/** Counters the debug drawer shows, so anyone can watch nothing get lost. */
export interface WireCounters {
  /** `msg` frames handed to the SDK (duplicates included). */
  readonly received: number
  /** Messages the SDK passed to the app: each offset once, in order. */
  readonly applied: number
  /** Frames the SDK dropped because it already had that offset. */
  readonly duplicatesDropped: number
  /** Missing messages noticed by the SDK (a hole in the offsets, or a reconnect)… */
  readonly gapsDetected: number
  /** …and catch-ups that replayed them: the gap is closed. */
  readonly gapsHealed: number
  /** Messages replayed by those catch-ups. */
  readonly replayed: number
  /** Connections the chaos switch killed. */
  readonly kills: number
  /** Connections opened (the first one included). */
  readonly connections: number
}

const ZERO: WireCounters = {
  received: 0,
  applied: 0,
  duplicatesDropped: 0,
  gapsDetected: 0,
  gapsHealed: 0,
  replayed: 0,
  kills: 0,
  connections: 0,
}

/** An observable set of {@link WireCounters} (for `useSyncExternalStore`). */
export class WireStats {
  #counters: WireCounters = ZERO
  readonly #listeners = new Set<() => void>()
  #scheduled = false

  readonly get = (): WireCounters => this.#counters

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  add(counter: keyof WireCounters, n = 1): void {
    this.#counters = { ...this.#counters, [counter]: this.#counters[counter] + n }
    // One render per burst, however many frames arrived.
    if (this.#scheduled) return
    this.#scheduled = true
    setTimeout(() => {
      this.#scheduled = false
      for (const listener of [...this.#listeners]) listener()
    }, 50)
  }
}
