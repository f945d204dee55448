import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { FrameSink } from '../engine/frame-sink.js'

const TEXT = { binary: false } as const

/**
 * A FrameSink over one `ws` socket. `ws` calls a send's callback once the frame has been handed
 * to the kernel, so "every callback fired" means our user-space queue is empty: that is the drain
 * signal the cursor pumps wait for.
 */
export class WsSink implements FrameSink {
  #unflushed = 0
  #waiters: (() => void)[] = []
  readonly #afterWrite = (): void => {
    this.#unflushed -= 1
    if (this.#unflushed === 0) this.#release()
  }

  constructor(
    readonly id: string,
    private readonly socket: WebSocket,
    /** The upgraded TCP socket `ws` writes to; ours since the `upgrade` event handed it to us. */
    private readonly stream: Duplex,
  ) {
    socket.once('close', () => this.#release())
  }

  get closed(): boolean {
    return this.socket.readyState !== this.socket.OPEN
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  send(frame: Buffer): void {
    if (this.closed) return
    this.#unflushed += 1
    this.socket.send(frame, TEXT, this.#afterWrite)
  }

  batch(write: () => void): void {
    // `ws` corks and uncorks around each frame; the outer cork holds every frame until we are done.
    this.stream.cork()
    try {
      write()
    } finally {
      this.stream.uncork()
    }
  }

  whenDrained(): Promise<void> {
    if (this.#unflushed === 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #release(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }
}
