import type { ConnectionSettings } from './connection-context.js'
import type { FrameLink } from './frame-link.js'

/** Handles one inbound frame. */
export interface FrameHandler {
  /** Handles one frame's text (`undefined` for a binary frame); never rejects. */
  handle(text: string | undefined): Promise<void>
}

/**
 * A connection's inbound frames, handled strictly in arrival order: each waits for the previous
 * one's handling (a publish's admission, not its commit), so a client's pipelined publishes commit
 * in the order it sent them.
 *
 * The link is read only while few frames wait for handling and the peer takes its answers: a
 * client that floods frames and never reads costs a bounded queue, not memory (G6).
 */
export class InboundQueue {
  #queue: Promise<void> = Promise.resolve()
  #pending = 0
  #readPaused = false
  #watchingDrain = false

  constructor(
    private readonly link: FrameLink,
    private readonly settings: Pick<ConnectionSettings, 'maxInboundFrames' | 'highWaterMark'>,
    private readonly handler: FrameHandler,
  ) {}

  /** Queues one inbound frame behind those still being handled. */
  push(text: string | undefined): void {
    this.#pending += 1
    this.#updateReading()
    this.#queue = this.#queue.then(async () => {
      try {
        await this.handler.handle(text)
      } finally {
        this.#pending -= 1
        this.#updateReading()
      }
    })
  }

  #updateReading(): void {
    const backlog = this.#pending > this.settings.maxInboundFrames
    const unread = this.link.bufferedAmount > this.settings.highWaterMark
    const pause = (backlog || unread) && !this.link.closed
    if (pause && !this.#readPaused) {
      this.#readPaused = true
      this.link.pauseInbound()
    } else if (!pause && this.#readPaused) {
      this.#readPaused = false
      this.link.resumeInbound()
    }
    if (pause && unread && !this.#watchingDrain) {
      this.#watchingDrain = true
      void this.link.whenDrained().then(() => {
        this.#watchingDrain = false
        this.#updateReading()
      })
    }
  }
}
