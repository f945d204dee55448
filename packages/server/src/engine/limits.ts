/** Per-server limits (DESIGN §8). Each refusal carries its own stable error code. */
export interface Limits {
  /** Largest message payload, in bytes of its JSON text (PAYLOAD_TOO_LARGE). */
  readonly maxPayloadBytes: number
  /** Sustained publishes per second per client (RATE_LIMITED). */
  readonly publishRatePerSec: number
  /** Publishes a client may burst above the sustained rate. */
  readonly publishBurst: number
  /** Streams one connection may follow at once (TOO_MANY_STREAMS). */
  readonly maxStreamsPerConnection: number
  /** Live connections per client (TOO_MANY_CONNECTIONS, or a fresh client on request). */
  readonly maxConnectionsPerClient: number
  /** Registered clients per user (TOO_MANY_CLIENTS). */
  readonly maxClientsPerUser: number
}

export const defaultLimits: Limits = {
  maxPayloadBytes: 64 * 1024,
  publishRatePerSec: 200,
  publishBurst: 400,
  maxStreamsPerConnection: 256,
  maxConnectionsPerClient: 1,
  maxClientsPerUser: 64,
}
