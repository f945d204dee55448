/**
 * A small deterministic random source (mulberry32) for chaos schedules and generated data: the same
 * seed gives the same sequence, so a failing run is replayed by passing its printed seed again.
 * Not for anything security-related.
 *
 * @example
 * const random = new SeededRandom(42)
 * const victim = random.pick(proxies)
 * const delayMs = random.int(100, 500)
 */
export class SeededRandom {
  #state: number

  constructor(readonly seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from an empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** One key of `weights`, drawn in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][]
    const total = entries.reduce((sum, [, w]) => sum + w, 0)
    let roll = this.next() * total
    for (const [key, weight] of entries) {
      roll -= weight
      if (roll < 0) return key
    }
    return (entries.at(-1) as [K, number])[0]
  }

  /**
   * An independent source derived from this seed and `label`: the faults of one proxy do not shift
   * when another part of the run draws one number more.
   */
  fork(label: string): SeededRandom {
    let h = this.seed ^ 0x9e3779b9
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
    return new SeededRandom(h >>> 0)
  }
}

/**
 * The same generator as a plain function returning floats in [0, 1) (mulberry32), for callers that
 * only need `random()`.
 *
 * @example
 * const random = seededRandom(42)
 * setTimeout(cut, 300 + random() * 1200)
 */
export function seededRandom(seed: number): () => number {
  const source = new SeededRandom(seed)
  return () => source.next()
}
