import type { StoredMessage, StreamRecord } from '../../store/store.js'
import type { CachedChunk } from './chunk-cache.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { joinJsonMessages } from './json-messages.js'
import { isJsonMediaType } from '../../media-type.js'

/** One server-defined chunk of a read (§5.6). */
export interface ReadChunk {
  /** The messages, for byte streams; empty for JSON chunks, which carry their `body` instead. */
  readonly messages: readonly StoredMessage[]
  /** Number of messages in the chunk. */
  readonly count: number
  /** Offset of the first message (`undefined` when empty). */
  readonly first: number | undefined
  /** Position after the chunk: the last message's offset, or the start when empty. */
  readonly next: number
  /** The chunk reaches the head the stream had when the read began (`Stream-Up-To-Date`). */
  readonly upToDate: boolean
  /** Total payload bytes. */
  readonly bytes: number
  /** The encoded catch-up body, when the read produced it (JSON chunks). */
  readonly body?: Buffer | undefined
  /** The chunk's cache entry, which also keeps its encoded body. */
  readonly cached?: CachedChunk | undefined
}

/** An empty chunk at `position`. */
export function emptyChunk(position: number): ReadChunk {
  return { messages: [], count: 0, first: undefined, next: position, upToDate: true, bytes: 0 }
}

/**
 * Reads the messages after `position`: at most `readChunkMessages` of them and — past the first,
 * which is always returned whole — at most `readChunkBytes`. Served from the chunk cache when it
 * holds this chunk.
 */
export async function readChunk(
  ctx: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
): Promise<ReadChunk> {
  const cache = ctx.chunkCache
  const hit = cache?.get(stream.name, stream.epoch, position, stream.head)
  // A cached chunk that starts below the retained tail was (partly) trimmed since it was read:
  // `-1` resolves to position 0 in every state of the stream, so "data at a position never
  // changes" does not hold for it once retention moves the tail. Serving it would hand out
  // deleted messages (found by the client SDK's snapshot acceptance test).
  if (hit !== undefined && (hit.first ?? stream.tail) >= stream.tail) {
    return { ...hit, upToDate: hit.next >= stream.head, cached: hit }
  }
  const { readChunkMessages, readChunkBytes } = ctx.settings
  if (isJsonMediaType(stream.contentType)) {
    // JSON streams: the store assembles the array body in one query — no object per message.
    const array = await ctx.engine.streams.readJsonArray(
      stream.name,
      position,
      readChunkMessages,
      readChunkBytes,
    )
    const next = array?.last ?? position
    const entry: CachedChunk = {
      messages: [],
      count: array?.count ?? 0,
      first: array?.first,
      next,
      bytes: array?.bytes ?? 0,
      // More messages followed it when it was read: it can never grow.
      full: array !== undefined && (array.count === readChunkMessages || next < stream.head),
      ...(array === undefined ? {} : { body: array.body }),
    }
    cache?.set(stream.name, stream.epoch, position, entry)
    return { ...entry, upToDate: next >= stream.head, cached: entry }
  }
  // The store stops at the byte bound before it loads the payloads past it.
  const messages = await ctx.engine.streams.read(
    stream.name,
    position,
    readChunkMessages,
    readChunkBytes,
  )
  const bytes = messages.reduce((sum, m) => sum + m.data.byteLength, 0)
  const next = messages.at(-1)?.offset ?? position
  const entry: CachedChunk = {
    messages,
    count: messages.length,
    first: messages[0]?.offset,
    next,
    bytes,
    // More messages followed it when it was read: it can never grow.
    full: messages.length === readChunkMessages || (messages.length > 0 && next < stream.head),
  }
  cache?.set(stream.name, stream.epoch, position, entry)
  return { ...entry, upToDate: next >= stream.head, cached: entry }
}

/** The catch-up body of a chunk (§5.6, §9.1.5): a JSON array, or the payloads back to back. */
export function chunkBody(
  ctx: DurableStreamsContext,
  stream: StreamRecord,
  chunk: ReadChunk,
): Buffer {
  const known = chunk.cached?.body ?? chunk.body
  if (known !== undefined) return known
  const body = isJsonMediaType(stream.contentType)
    ? joinJsonMessages(chunk.messages)
    : concatData(chunk.messages, chunk.bytes)
  if (chunk.cached !== undefined) ctx.chunkCache?.setBody(chunk.cached, body)
  return body
}

/** The payload bytes of a chunk's messages, back to back (non-JSON streams, §5.6). */
export function concatData(messages: readonly StoredMessage[], bytes: number): Buffer {
  if (messages.length === 1) {
    const data = (messages[0] as StoredMessage).data
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  }
  return Buffer.concat(
    messages.map((m) => m.data),
    bytes,
  )
}
