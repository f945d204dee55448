import type { ClientFrame, ServerFrame } from '@seqline/protocol'

/**
 * Close code a transport reports when its link ended without a close frame (RFC 6455 §7.4.1:
 * 1006, "abnormal closure", never sent on the wire): a failed dial, a dropped network, a failed
 * request. Every other code is one of the protocol's `CloseCode`s.
 */
export const ABNORMAL_CLOSURE = 1006

/** How a transport tells its connection what happened. Called only until `onClose`. */
export interface TransportHandlers {
  /** The link is up; the connection sends `hello` next. */
  onOpen(): void
  /** One server frame arrived. */
  onFrame(frame: ServerFrame): void
  /** The link is gone (closed, failed, or never came up). Called once. */
  onClose(info: TransportCloseInfo): void
  /**
   * The link goes on in another mode and the transport's `name` changed: the HTTP transport
   * switched from SSE to long-polling. The open state reports the new name.
   */
  onTransportChange?(name: string): void
}

/** Why a transport link ended. */
export interface TransportCloseInfo {
  /** A `CloseCode`, {@link ABNORMAL_CLOSURE}, or another code the peer sent. */
  readonly code: number
  readonly reason: string
  readonly error?: unknown
}

/** One live link, as returned by {@link Transport.connect}. */
export interface TransportLink {
  send(frame: ClientFrame): void
  /** Closes the link; no handler is called afterwards. */
  close(code?: number, reason?: string): void
}

/**
 * The seam between the connection state machine and the wire. Frames in, frames out: the WebSocket
 * transport sends them as JSON text frames; the HTTP session transport carries the same frames over
 * one event read (SSE or long-poll) and POSTs.
 */
export interface Transport {
  /** Short name for logs and the open state: `'websocket'`, `'sse'`, `'long-poll'`, or your own. */
  readonly name: string
  connect(handlers: TransportHandlers): TransportLink
}
