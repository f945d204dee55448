import type { Duplex } from 'node:stream'
import type { CloseCode } from '@seqline/protocol'
import type { WebSocket } from 'ws'
import { msgFrameText } from '../../connection/msg-frame.js'
import type { FrameLink } from '../../connection/frame-link.js'
import type { CommittedMessage, MessageEncoding } from '../../engine/committed-message.js'
import { webSocketTextFrame } from './websocket-frame.js'

/** A message as a complete WebSocket frame: built once per message, written to every socket. */
export const webSocketMessage: MessageEncoding<Buffer> = {
  name: 'websocket',
  encode: (message) => webSocketTextFrame(Buffer.from(msgFrameText(message))),
}

const TEXT = { binary: false } as const

/**
 * A `FrameLink` over one `ws` socket. Control frames go through `ws`; committed messages are
 * written as ready-made WebSocket frames straight to the upgraded TCP socket, which is ours since
 * the `upgrade` event handed it to us. Both paths write whole frames synchronously to the same
 * stream, so frames never interleave and order is kept. Backpressure is the socket's own.
 */
export class WsLink implements FrameLink {
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

  /** A socket is read for as long as it is open (a half-open one is found by the heartbeat). */
  get detached(): boolean {
    return false
  }

  writeText(text: Buffer): void {
    if (this.closed) return
    this.socket.send(text, TEXT)
  }

  writeMessage(message: CommittedMessage): void {
    if (this.closed) return
    this.stream.write(message.encoded(webSocketMessage))
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

  close(code: CloseCode, reason: string, graceMs = 2_000): void {
    this.socket.close(code, reason)
    // A peer that never answers the close handshake is cut after a grace period.
    setTimeout(() => this.socket.terminate(), graceMs).unref()
  }

  pauseInbound(): void {
    this.socket.pause()
  }

  resumeInbound(): void {
    this.socket.resume()
  }
}
