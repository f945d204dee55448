import type { Logger } from 'pino'
import type { Engine } from '../../engine/engine.js'
import type { Metrics } from '../../observability/metrics.js'
import type { ServerSettings } from '../../settings/server-settings.js'
import type { ChunkCache } from './chunk-cache.js'
import type { CursorOptions } from './stream-cursor.js'

/** The settings of the Durable Streams endpoint, resolved. */
export interface DurableStreamsSettings {
  /** How long a `live=long-poll` request waits for data before answering 204 (§5.7). */
  readonly longPollTimeoutMs: number
  /** How long an SSE connection stays open before the server closes it (§10.2: ~60 s). */
  readonly sseCloseAfterMs: number
  /** Largest accepted request body (PUT / POST), bytes; larger gets 413. */
  readonly maxBodyBytes: number
  /** Server-defined chunk size of a read (§5.6): at most this many bytes … */
  readonly readChunkBytes: number
  /** … and this many messages per response. */
  readonly readChunkMessages: number
  /** Longest `Producer-Id` (bytes of UTF-8). */
  readonly maxProducerIdBytes: number
  readonly cursor: CursorOptions
}

/** The Durable Streams settings out of the server's. */
export function durableStreamsSettings(settings: ServerSettings): DurableStreamsSettings {
  const ds = settings.durableStreams
  return {
    longPollTimeoutMs: ds.longPollTimeoutMs,
    sseCloseAfterMs: ds.sseCloseAfterMs,
    maxBodyBytes: ds.maxBodyBytes ?? settings.limits.maxPayloadBytes,
    readChunkBytes: ds.readChunkBytes,
    readChunkMessages: ds.readChunkMessages,
    maxProducerIdBytes: settings.limits.maxProducerIdBytes,
    cursor: { intervalSeconds: ds.cursorIntervalSeconds, epochMs: Date.UTC(2024, 9, 9) },
  }
}

/** What the Durable Streams handlers share. */
export interface DurableStreamsContext {
  readonly engine: Engine
  readonly logger: Logger
  readonly metrics: Metrics
  readonly settings: DurableStreamsSettings
  /** Recently read chunks (undefined: no cache). */
  readonly chunkCache: ChunkCache | undefined
}
