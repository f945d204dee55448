import type { ServerFrame } from '@seqline/protocol'
import type { Follower } from '../engine/follower.js'
import type { SessionEnd, SessionEnding } from '../engine/session.js'
import type { Replaceable } from './client-registry.js'
import type { ConnectionContext } from './connection-context.js'
import type { ConnectionLifecycle } from './connection-lifecycle.js'

/**
 * A `ProtocolConnection` as the handlers of its frames see it (greeting.ts, frame-handlers.ts,
 * publish-handler.ts): they answer the peer through it and change state through its lifecycle.
 * Kept narrow on purpose; the connection's public surface is its transport's and the engine's.
 */
export interface ConnectionPort extends SessionEnding {
  /** The connection itself: the engine's follower for its session, its client's registry slot. */
  readonly connection: Follower & Replaceable
  readonly ctx: ConnectionContext
  readonly lifecycle: ConnectionLifecycle
  /** Nothing can be written to the link any more (either side closed it). */
  readonly linkClosed: boolean
  send(frame: ServerFrame): void
  /** An `error` frame for `err`, about `stream` when given. */
  sendError(err: unknown, stream?: string): void
  /** Refuses a hello or an `auth`: error frame, then a policy close. */
  refuse(err: unknown): void
  /** The hello was answered: admission stops counting the connection as pending. */
  greeted(): void
  /** The engine ended the session on its own (credentials revoked, user disconnected). */
  ended(end: SessionEnd): void
}
