/**
 * Runs the application's callbacks of one subscription one at a time, in order: an async
 * `onMessage` finishes before the next message is handed over. `clear()` drops what has not started.
 */
export class CallbackQueue {
  readonly #tasks: (() => unknown)[] = []
  #state: 'idle' | 'running' | 'cleared' = 'idle'

  push(task: () => unknown): void {
    if (this.#state === 'cleared') return
    this.#tasks.push(task)
    if (this.#state === 'idle') void this.#drain()
  }

  /** Drops every task that has not started; nothing runs afterwards. */
  clear(): void {
    this.#tasks.length = 0
    this.#state = 'cleared'
  }

  async #drain(): Promise<void> {
    this.#state = 'running'
    for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
      await task()
      if (this.#cleared) return
    }
    this.#state = 'idle'
  }

  // A getter, so the check after the `await` reads the state anew (clear() may have run meanwhile).
  get #cleared(): boolean {
    return this.#state === 'cleared'
  }
}
