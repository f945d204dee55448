/** Codes of errors raised by the client itself (server errors arrive as `SeqlineError`). */
export const ClientErrorCode = {
  /** The client was closed; a pending publish stays in the outbox for the next client. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /** `subscribe()` was called on a stream that already has a subscription. */
  ALREADY_SUBSCRIBED: 'ALREADY_SUBSCRIBED',
  /** The app's `snapshot()` failed; it is retried with backoff. */
  SNAPSHOT_FAILED: 'SNAPSHOT_FAILED',
  /** No `welcome` arrived in time after the socket opened. */
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  /** The server stayed silent for longer than the heartbeat allows. */
  HEARTBEAT_TIMEOUT: 'HEARTBEAT_TIMEOUT',
  /** The app's `onMessage` threw; the message counts as processed. */
  CALLBACK_FAILED: 'CALLBACK_FAILED',
  /** The app's `getToken()` failed while refreshing an open connection's token; it is retried. */
  TOKEN_REFRESH_FAILED: 'TOKEN_REFRESH_FAILED',
  /** `close({ forget: true })` could not reach the server; the server forgets the client after its TTL. */
  FORGET_FAILED: 'FORGET_FAILED',
  /** Storage could not be read or written. */
  STORAGE_FAILED: 'STORAGE_FAILED',
} as const

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode]

/** An error raised by the client SDK, with a stable `code`. */
export class ClientError extends Error {
  override readonly name = 'ClientError'
  readonly code: ClientErrorCode

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}
