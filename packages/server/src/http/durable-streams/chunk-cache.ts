import type { StoredMessage } from '../../store/store.js'

/** A chunk read from the store, with its response body once encoded. */
export interface CachedChunk {
  /** The messages, for byte streams; empty for JSON chunks, which are read as one array `body`. */
  readonly messages: readonly StoredMessage[]
  /** Number of messages in the chunk. */
  readonly count: number
  /** Offset of the first message (`undefined` when empty). */
  readonly first: number | undefined
  /** Position after the chunk. */
  readonly next: number
  readonly bytes: number
  /** The chunk hit the chunk-size limit: more messages followed it, so it can never grow. */
  readonly full: boolean
  /** The encoded catch-up body (JSON array or bytes), set by the first reader that needs it. */
  body?: Buffer
}

/**
 * A bounded LRU of recently read chunks, by (stream, epoch, start position). Data at a position
 * never changes (Durable Streams §4), so a chunk that hit the size limit is valid forever and one
 * that ended at the head is valid while the head has not moved — the check needs no store access.
 * Many readers catching up on the same stream then cost one store read and one encoding per
 * chunk instead of one each. Bounded by payload bytes (G6).
 */
export class ChunkCache {
  readonly #entries = new Map<string, CachedChunk>()
  #bytes = 0

  constructor(private readonly maxBytes: number) {}

  /** The chunk starting at `position`, if cached and still what a read would return now. */
  get(stream: string, epoch: string, position: number, head: number): CachedChunk | undefined {
    const key = keyOf(stream, epoch, position)
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (!entry.full && entry.next !== head) {
      // It ended at an older head: the stream has grown since.
      this.#delete(key, entry)
      return undefined
    }
    // Refresh its LRU position.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry
  }

  /** Remembers a chunk (empty chunks and chunks larger than a quarter of the cache are not kept). */
  set(stream: string, epoch: string, position: number, chunk: CachedChunk): void {
    if (chunk.count === 0 || chunk.bytes * 4 > this.maxBytes) return
    const key = keyOf(stream, epoch, position)
    const old = this.#entries.get(key)
    if (old !== undefined) this.#delete(key, old)
    this.#entries.set(key, chunk)
    this.#bytes += weight(chunk)
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break
      this.#delete(oldest, entry)
    }
  }

  /** Remembers the encoded body of a cached chunk (counted against the bound). */
  setBody(chunk: CachedChunk, body: Buffer): void {
    if (chunk.body !== undefined) return
    chunk.body = body
    this.#bytes += body.byteLength
  }

  #delete(key: string, entry: CachedChunk): void {
    this.#entries.delete(key)
    this.#bytes -= weight(entry)
  }
}

function keyOf(stream: string, epoch: string, position: number): string {
  return `${stream}\u0000${epoch}\u0000${position}`
}

function weight(chunk: CachedChunk): number {
  return chunk.bytes + (chunk.body?.byteLength ?? 0) + chunk.count * 64
}
