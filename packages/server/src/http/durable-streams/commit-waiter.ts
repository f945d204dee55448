import type { CommitEvent, Engine } from '../../engine/engine.js'

/** Why a wait ended. */
export type WakeReason = 'commit' | 'deleted' | 'timeout' | 'aborted'

/**
 * Waits for commits to one stream, for the live read modes (§5.7, §5.8). It listens from
 * construction on and remembers a commit that lands while nobody waits, so that the usual loop —
 * create the waiter, read the store, wait if there was nothing — never misses a commit that lands
 * between the read and the wait.
 */
export class CommitWaiter {
  #pending: WakeReason | undefined
  #wake: ((reason: WakeReason) => void) | undefined
  readonly #dispose: () => void

  constructor(engine: Pick<Engine, 'onCommit'>, stream: string) {
    this.#dispose = engine.onCommit(stream, (event: CommitEvent) => {
      // engine.deleteStream reports the deletion as a commit without an epoch.
      this.#signal(event.epoch === '' ? 'deleted' : 'commit')
    })
  }

  /** Resolves at the next commit (or at once if one landed since the last wait), or on timeout. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    const pending = this.#pending
    if (pending !== undefined) {
      this.#pending = undefined
      return Promise.resolve(pending)
    }
    if (signal?.aborted === true) return Promise.resolve('aborted')
    return new Promise((resolve) => {
      const finish = (reason: WakeReason): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#wake = undefined
        resolve(reason)
      }
      const onAbort = (): void => finish('aborted')
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs))
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#wake = finish
    })
  }

  /** Stops listening. */
  dispose(): void {
    this.#dispose()
    this.#wake?.('aborted')
  }

  #signal(reason: WakeReason): void {
    if (this.#wake !== undefined) this.#wake(reason)
    // A deletion outranks a commit that nobody has collected yet.
    else if (this.#pending !== 'deleted') this.#pending = reason
  }
}
