import type { Logger } from 'pino'
import type { Authenticate } from '../../auth/authenticator.js'
import type { Engine } from '../../engine/engine.js'
import type { Metrics } from '../../observability/metrics.js'
import type { ChunkCache } from './chunk-cache.js'
import { type CursorOptions, cursorDefaults } from './stream-cursor.js'

/** Tunables of the Durable Streams HTTP endpoint. */
export interface DurableStreamsOptions {
  /** How long a `live=long-poll` request waits for data before answering 204 (§5.7). */
  readonly longPollTimeoutMs: number
  /** How long an SSE connection stays open before the server closes it (§10.2: ~60 s). */
  readonly sseCloseAfterMs: number
  /** Largest accepted request body (PUT / POST), bytes; larger gets 413. */
  readonly maxBodyBytes: number
  /** Server-defined chunk size of a read (§5.6): at most this many bytes … */
  readonly readChunkBytes: number
  /** … and this many messages per response or SSE data event. */
  readonly readChunkMessages: number
  /** Bytes of recently read chunks kept to serve repeated catch-up reads (0: no cache). */
  readonly chunkCacheBytes: number
  readonly cursor: CursorOptions
}

/** Defaults of {@link DurableStreamsOptions}. */
export const durableStreamsDefaults: DurableStreamsOptions = {
  longPollTimeoutMs: 30_000,
  sseCloseAfterMs: 60_000,
  maxBodyBytes: 1024 * 1024,
  readChunkBytes: 4 * 1024 * 1024,
  readChunkMessages: 10_000,
  chunkCacheBytes: 32 * 1024 * 1024,
  cursor: cursorDefaults,
}

/** What the Durable Streams handler needs from the server. */
export interface DurableStreamsContext {
  readonly engine: Engine
  readonly authenticate: Authenticate
  /** Requests without a token run as this user (`--auth none`); undefined requires a token. */
  readonly anonymousUser: string | undefined
  readonly logger: Logger
  readonly metrics?: Metrics | undefined
  readonly options: DurableStreamsOptions
  /** Set by `createDurableStreamsHandler` (see chunk-cache.ts). */
  readonly chunkCache?: ChunkCache | undefined
  /** Claims of the request's principal, for `authorize`; set per request by the handler. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}
