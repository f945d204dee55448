/**
 * Positions that retention must not trim past on this node: every live reader — a WebSocket
 * subscription or an HTTP SSE session — holds the first offset it still has to send, so a reader
 * that keeps up is never reset because a burst outran the retention count (G3 stays for readers
 * that fall behind for real: the retention job of another node, or a reader that reconnects late).
 */
export class RetentionHolds {
  readonly #byStream = new Map<string, Map<object, () => number>>()

  /** Holds `stream` at `needsFrom()` for `holder` until `release(holder)`. */
  hold(holder: object, stream: string, needsFrom: () => number): void {
    let holds = this.#byStream.get(stream)
    if (holds === undefined) this.#byStream.set(stream, (holds = new Map()))
    holds.set(holder, needsFrom)
  }

  release(holder: object, stream: string): void {
    const holds = this.#byStream.get(stream)
    if (holds === undefined) return
    holds.delete(holder)
    if (holds.size === 0) this.#byStream.delete(stream)
  }

  /** The lowest offset a reader of `stream` still needs, if any reader holds it. */
  keepFrom(stream: string): number | undefined {
    let keepFrom: number | undefined
    for (const needsFrom of this.#byStream.get(stream)?.values() ?? []) {
      keepFrom = Math.min(keepFrom ?? Infinity, needsFrom())
    }
    return keepFrom
  }
}
