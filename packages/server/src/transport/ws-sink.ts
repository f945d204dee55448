import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { FrameSink } from '../engine/frame-sink.js'
import { type FramedMessage, webSocketFrame } from '../engine/message-frame.js'

const TEXT = { binary: false } as const

/**
 * A FrameSink over one `ws` socket. Control frames go through `ws`; committed messages are written
 * as ready-made WebSocket frames (shared by every subscriber) straight to the upgraded TCP socket,
 * which is ours since the `upgrade` event handed it to us. Both paths write whole frames
 * synchronously to the same stream, so frames never interleave and order is kept.
 *
 * Backpressure is the socket's own: `bufferedAmount` is what `ws` and the socket still hold, and
 * `whenDrained` waits for the socket's `drain` event.
 */
export class WsSink implements FrameSink {
  constructor(
    readonly id: string,
    private readonly socket: WebSocket,
    private readonly stream: Duplex,
  ) {}

  get closed(): boolean {
    // Once `ws` has sent (or received) a close frame no data frame may follow it (RFC 6455 §5.5.1).
    return this.socket.readyState !== this.socket.OPEN
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  send(frame: Buffer): void {
    if (this.closed) return
    this.socket.send(frame, TEXT)
  }

  sendMessage(message: FramedMessage): void {
    if (this.closed) return
    this.stream.write(webSocketFrame(message))
  }

  batch(write: () => void): void {
    // One cork around the burst: every frame leaves in one system call.
    this.stream.cork()
    try {
      write()
    } finally {
      this.stream.uncork()
    }
  }

  whenDrained(): Promise<void> {
    if (this.closed || !this.stream.writableNeedDrain) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done)
        this.stream.off('close', done)
        resolve()
      }
      this.stream.on('drain', done)
      this.stream.on('close', done)
    })
  }
}
