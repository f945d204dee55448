import type { Clock, TimerHandle } from './clock.js'

/** What a {@link Heartbeat} needs from its connection. */
export interface HeartbeatHooks {
  /** Sends a `ping`. */
  ping(): void
  /** The server has been silent too long: the connection is half-open or blackholed. */
  onTimeout(silentForMs: number): void
}

/**
 * Detects a dead connection from the time of the last frame received, never from timer counts.
 *
 * It pings every `intervalMs / 2` (the server answers `pong`, and counts our pings as liveness) and
 * checks every `intervalMs / 8` whether the server has been silent for `timeoutMs` (one interval by
 * default). A healthy connection hears a pong at least every half interval (plus a round trip), which
 * leaves half an interval of slack for a busy server; a blackholed one is detected within
 * `timeoutMs + intervalMs / 8` = 1.125 intervals, so that with a short reconnect backoff it is
 * *replaced* within 2 intervals. A device that slept wakes with its timers late: the first check then
 * sees how long the server has really been silent and fails at once.
 */
export class Heartbeat {
  readonly #clock: Clock
  readonly #hooks: HeartbeatHooks
  readonly #intervalMs: number
  readonly #timeoutMs: number
  #lastReceived = 0
  #lastPing = 0
  #handle: TimerHandle | undefined

  constructor(clock: Clock, hooks: HeartbeatHooks, intervalMs: number, timeoutMs = intervalMs) {
    this.#clock = clock
    this.#hooks = hooks
    this.#intervalMs = intervalMs
    this.#timeoutMs = timeoutMs
  }

  /** Starts watching; counts now as the last server activity. */
  start(): void {
    const now = this.#clock.now()
    this.#lastReceived = now
    this.#lastPing = now
    this.#schedule()
  }

  stop(): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle)
    this.#handle = undefined
  }

  /** Records server activity: any frame proves the connection alive. */
  received(): void {
    this.#lastReceived = this.#clock.now()
  }

  /** Milliseconds since the last frame from the server. */
  #silentForMs(): number {
    return this.#clock.now() - this.#lastReceived
  }

  /**
   * Checks now (page became visible, network came back): fails at once if the server has been
   * silent too long, else probes with a ping so a dead link is found within one timeout.
   */
  check(): void {
    if (this.#handle === undefined) return
    if (this.#expired()) return
    if (this.#silentForMs() > this.#intervalMs / 8) this.#ping()
  }

  #schedule(): void {
    this.#handle = this.#clock.setTimeout(() => this.#tick(), this.#intervalMs / 8)
  }

  #tick(): void {
    this.#handle = undefined
    if (this.#expired()) return
    if (this.#clock.now() - this.#lastPing >= this.#intervalMs / 2) this.#ping()
    this.#schedule()
  }

  #expired(): boolean {
    const silent = this.#silentForMs()
    if (silent < this.#timeoutMs) return false
    this.stop()
    this.#hooks.onTimeout(silent)
    return true
  }

  #ping(): void {
    this.#lastPing = this.#clock.now()
    this.#hooks.ping()
  }
}
