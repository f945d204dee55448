/**
 * Stable error codes. The same strings travel in WebSocket `error` / `nack` frames and in HTTP
 * error bodies (`{ error: { code, message } }`), so clients can branch on them safely.
 */
export const ErrorCode = {
  /** The frame is not valid JSON or not a JSON object. */
  BAD_FRAME: 'BAD_FRAME',
  /** The frame's `t` names no known frame type. */
  UNKNOWN_FRAME: 'UNKNOWN_FRAME',
  /** The frame has the right type but a field is missing or of the wrong shape. */
  INVALID_FRAME: 'INVALID_FRAME',
  /** A stream name does not match the stream-name pattern. */
  INVALID_STREAM_NAME: 'INVALID_STREAM_NAME',
  /** A frame or payload exceeds the configured size limit. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The client publishes faster than its rate limit allows. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The connection already follows the maximum number of streams. */
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  /** The client already has the maximum number of open connections. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The user already has the maximum number of registered clients. */
  TOO_MANY_CLIENTS: 'TOO_MANY_CLIENTS',
  /** No valid credentials were presented. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The user may not perform this action on this stream or client. */
  FORBIDDEN: 'FORBIDDEN',
  /** The client id is not registered (never was, or was garbage-collected): register again. */
  CLIENT_UNKNOWN: 'CLIENT_UNKNOWN',
  /** A frame other than `hello` arrived before the `hello` was accepted. */
  HELLO_REQUIRED: 'HELLO_REQUIRED',
  /** A second `hello` arrived on a connection that already has one. */
  ALREADY_GREETED: 'ALREADY_GREETED',
  /** The frame names a stream this connection does not follow. */
  NOT_SUBSCRIBED: 'NOT_SUBSCRIBED',
  /** The stream does not exist. */
  STREAM_NOT_FOUND: 'STREAM_NOT_FOUND',
  /** The stream is closed and accepts no more appends. */
  STREAM_CLOSED: 'STREAM_CLOSED',
  /** The requested history is below the retained tail. */
  GONE: 'GONE',
  /** The producer epoch is older than the one the server has seen: this producer is fenced off. */
  PRODUCER_FENCED: 'PRODUCER_FENCED',
  /** The producer sequence skips ahead of the expected one. */
  PRODUCER_SEQ_GAP: 'PRODUCER_SEQ_GAP',
  /** Producer fields are malformed (for instance a new epoch that does not start at seq 0). */
  INVALID_PRODUCER: 'INVALID_PRODUCER',
  /** The request conflicts with the stream's configuration (content type, stream seq, …). */
  CONFLICT: 'CONFLICT',
  /** The request is malformed (HTTP). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No route or resource matches (HTTP). */
  NOT_FOUND: 'NOT_FOUND',
  /** The server is shutting down; reconnect after the hinted delay. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The user token expired: send `auth` with a fresh one before the grace period ends. */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** The client's credentials were revoked (secret rotated, client deleted, user disconnected). */
  CLIENT_REVOKED: 'CLIENT_REVOKED',
  /** The peer reads too slowly: its unread frames passed the server's bound. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** No `hello` arrived in time after the connection opened. */
  HELLO_TIMEOUT: 'HELLO_TIMEOUT',
  /** A JSON value is nested deeper than the server accepts. */
  PAYLOAD_TOO_DEEP: 'PAYLOAD_TOO_DEEP',
  /** An external service the decision depends on (an authorization backend) did not answer. */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** The server is admitting too many connections at once: retry after the hinted delay. */
  OVERLOADED: 'OVERLOADED',
  /** The HTTP session does not exist (expired, closed, or on a server that restarted). */
  SESSION_UNKNOWN: 'SESSION_UNKNOWN',
  /** An unexpected server fault. No details are exposed. */
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** HTTP status that corresponds to each error code. */
export const httpStatusOf: Readonly<Record<ErrorCode, number>> = {
  BAD_FRAME: 400,
  UNKNOWN_FRAME: 400,
  INVALID_FRAME: 400,
  INVALID_STREAM_NAME: 400,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  TOO_MANY_CONNECTIONS: 429,
  TOO_MANY_CLIENTS: 429,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CLIENT_UNKNOWN: 404,
  HELLO_REQUIRED: 400,
  ALREADY_GREETED: 400,
  NOT_SUBSCRIBED: 400,
  STREAM_NOT_FOUND: 404,
  STREAM_CLOSED: 409,
  GONE: 410,
  PRODUCER_FENCED: 403,
  PRODUCER_SEQ_GAP: 409,
  INVALID_PRODUCER: 400,
  CONFLICT: 409,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  SHUTTING_DOWN: 503,
  TOKEN_EXPIRED: 401,
  CLIENT_REVOKED: 403,
  SLOW_CONSUMER: 429,
  HELLO_TIMEOUT: 408,
  PAYLOAD_TOO_DEEP: 400,
  BACKEND_UNAVAILABLE: 503,
  OVERLOADED: 503,
  SESSION_UNKNOWN: 404,
  INTERNAL: 500,
}
