import type { Logger } from 'pino'

/**
 * Runs `task` every `intervalMs`, never twice at once, on an `unref()`ed timer so housekeeping
 * never keeps the process alive. `stop()` waits for a run in progress.
 */
export class PeriodicJob {
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.runNow(), this.intervalMs)
    this.#timer.unref()
  }

  /** Runs the task now unless a run is already in progress (then waits for that one). */
  runNow(): Promise<void> {
    this.#running ??= this.task()
      .catch((err: unknown) => this.logger.error({ err, job: this.name }, 'periodic job failed'))
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }
}
