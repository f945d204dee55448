import type { CloseCode } from '@seqline/protocol'
import type { CommittedMessage } from '../engine/committed-message.js'

/**
 * One transport link carrying the Seqline protocol (DESIGN §5): a WebSocket, or an HTTP session
 * (one event stream plus POSTed frames). It moves bytes only — every protocol decision is the
 * `ProtocolConnection`'s — and it encodes messages in its own wire format, once per message
 * (`CommittedMessage.encoded`), so all of a stream's subscribers on that transport share the bytes.
 */
export interface FrameLink {
  /** Connection id (`k_…`), also the session's. */
  readonly id: string
  /** Nothing can be written any more. */
  readonly closed: boolean
  /** Bytes written but not yet taken by the peer. */
  readonly bufferedAmount: number
  /** Nothing reads from the link now (an HTTP session between reads, or abandoned). */
  readonly detached: boolean
  /** Resolves once the peer took what was buffered (or the link closed). */
  whenDrained(): Promise<void>
  /** Runs `write` as one burst (corked: one system call). */
  batch(write: () => void): void
  /** One server frame's JSON text. The buffer may be shared: it must not be mutated. */
  writeText(text: Buffer): void
  /** One committed message, as a `msg` frame in this transport's format. */
  writeMessage(message: CommittedMessage): void
  /**
   * Ends the link with a close code and reason, after what is already buffered. A peer that does
   * not complete the close within `graceMs` (default 2 s) is cut.
   */
  close(code: CloseCode, reason: string, graceMs?: number): void
  /** Stops reading frames from the peer (inbound backpressure) … */
  pauseInbound(): void
  /** … and reads again. */
  resumeInbound(): void
}
