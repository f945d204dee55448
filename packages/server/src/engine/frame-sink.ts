import type { FramedMessage } from './message-frame.js'

/**
 * Where a subscription's frames go: one per connection (WebSocket today, SSE later). The engine
 * only needs to write, to know how much is queued, and to wait until the queue has drained —
 * that is what keeps memory bounded for slow consumers (G6).
 */
export interface FrameSink {
  /** Connection id, for logs and for excluding the sender of a signal. */
  readonly id: string
  readonly closed: boolean
  /** Bytes written but not yet handed to the kernel. */
  readonly bufferedAmount: number
  /** Queues one text frame. `frame` may be shared with other sinks and must not be mutated. */
  send(frame: Buffer): void
  /** Queues one committed message; the message object is shared by every subscriber. */
  sendMessage(message: FramedMessage): void
  /** Resolves once everything sent so far has been flushed, or the sink closed. */
  whenDrained(): Promise<void>
  /**
   * Runs `write` with the underlying socket corked, so a burst of frames leaves in one system call
   * (and, on TCP, in as few segments as possible) instead of one per frame.
   */
  batch(write: () => void): void
}
