import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticator.js'
import type { Engine } from '../engine/engine.js'
import type { Metrics } from '../observability/metrics.js'
import type { ClientRegistry } from './client-registry.js'

/** Settings of a connection (a slice of the server's `connections` and `delivery`). */
export interface ConnectionSettings {
  readonly heartbeatMs: number
  readonly helloTimeoutMs: number
  readonly authGraceMs: number
  /** Unread bytes above which the connection is cut (SLOW_CONSUMER). */
  readonly maxBufferedBytes: number
  /** Frames queued for handling above which the connection stops being read. */
  readonly maxInboundFrames: number
  readonly highWaterMark: number
}

/** What every connection of a transport shares. */
export interface ConnectionContext {
  readonly engine: Engine
  /** The user of a token, or a refusal (UNAUTHENTICATED). */
  readonly authenticate: (token: string) => Promise<Principal>
  readonly registry: ClientRegistry
  readonly logger: Logger
  readonly metrics: Metrics
  readonly settings: ConnectionSettings
  readonly now: () => number
}
