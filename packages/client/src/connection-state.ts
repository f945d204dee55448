/**
 * How the open connection reaches the server: `'websocket'`, the HTTP session's `'sse'` or
 * `'long-poll'`, or the `name` of a transport of your own.
 */
export type TransportName = 'websocket' | 'sse' | 'long-poll' | (string & {})

/**
 * The connection's state. Each state carries its own data; `kind` is what apps usually switch on.
 * - `connecting`: the first attempt is in progress.
 * - `open`: `welcome` received; frames flow.
 * - `reconnecting`: the link was lost (or never came up); `waiting` for the backoff timer, or `dialing`.
 * - `offline`: the browser reports no network; nothing is attempted until it comes back.
 * - `closed`: terminal, after `close()` or a fatal error (e.g. UNAUTHENTICATED).
 */
export type ConnectionState =
  | { readonly kind: 'connecting'; readonly attempt: number; readonly generation: number }
  | {
      readonly kind: 'open'
      readonly generation: number
      readonly transport: TransportName
      readonly connectionId: string
      readonly clientId: string
      readonly userId: string
      readonly heartbeatMs: number
    }
  | {
      readonly kind: 'reconnecting'
      readonly phase: 'waiting'
      readonly attempt: number
      readonly retryInMs: number
      readonly cause: unknown
    }
  | {
      readonly kind: 'reconnecting'
      readonly phase: 'dialing'
      readonly attempt: number
      readonly generation: number
    }
  | { readonly kind: 'offline' }
  | { readonly kind: 'closed'; readonly error?: Error }

/** Name of a connection state. */
export type ConnectionStateKind = ConnectionState['kind']

/** Payload of the client's `state` event. */
export interface StateChange {
  readonly from: ConnectionState
  readonly to: ConnectionState
}
