/**
 * Values per key for indexes where nearly every key holds one value (sessions per client, per
 * user): a lone value is stored as itself and a `Set` is made only for the second, so an index of
 * ten thousand connections costs ten thousand map entries, not ten thousand sets as well.
 * Values are unique per key, in insertion order; a value must not itself be a `Set`.
 */
export class Multimap<K, V> {
  readonly #map = new Map<K, V | Set<V>>()

  /** Number of keys. */
  get size(): number {
    return this.#map.size
  }

  add(key: K, value: V): void {
    const held = this.#map.get(key)
    if (held === undefined) this.#map.set(key, value)
    else if (held instanceof Set) held.add(value)
    else if (held !== value) this.#map.set(key, new Set([held, value]))
  }

  /** Removes `value` from `key`; the key goes when its last value does. */
  delete(key: K, value: V): void {
    const held = this.#map.get(key)
    if (held === undefined) return
    if (!(held instanceof Set)) {
      if (held === value) this.#map.delete(key)
      return
    }
    held.delete(value)
    if (held.size === 1) this.#map.set(key, held.values().next().value as V)
    else if (held.size === 0) this.#map.delete(key)
  }

  /** The values of `key`, a copy: the caller may change the map while going through them. */
  get(key: K): V[] {
    const held = this.#map.get(key)
    if (held === undefined) return []
    return held instanceof Set ? [...held] : [held]
  }

  /** How many values `key` holds. */
  count(key: K): number {
    const held = this.#map.get(key)
    if (held === undefined) return 0
    return held instanceof Set ? held.size : 1
  }

  /** Every value of every key (a copy). */
  values(): V[] {
    const all: V[] = []
    for (const held of this.#map.values()) {
      if (held instanceof Set) all.push(...held)
      else all.push(held)
    }
    return all
  }
}
