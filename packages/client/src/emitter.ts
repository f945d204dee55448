/** A function that removes what registered it. */
export type Disposer = () => void

type Listener<A> = (arg: A) => void

/**
 * A small typed event emitter. `on()` returns its disposer. A throwing listener does not break the
 * emitter or the other listeners: its error is reported asynchronously.
 */
export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>()

  /** Calls `listener` on every `event` until the returned disposer runs. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): Disposer {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return () => {
      set.delete(listener as Listener<never>)
    }
  }

  /** Whether anyone listens to `event` (so that an event costly to build can be skipped). */
  has(event: keyof Events): boolean {
    return !!this.#listeners.get(event)?.size
  }

  emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as Listener<Events[K]>)(arg)
      } catch (error) {
        reportLater(error)
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear()
  }
}

/** Rethrows outside the SDK's call stack, so an application bug surfaces without corrupting state. */
export function reportLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
