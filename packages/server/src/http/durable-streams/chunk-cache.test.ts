import { describe, expect, it } from 'vitest'
import type { StoredMessage } from '../../store/store.js'
import { type CachedChunk, ChunkCache } from './chunk-cache.js'

function chunk(from: number, count: number, full: boolean, size = 10): CachedChunk {
  const messages: StoredMessage[] = Array.from({ length: count }, (_, i) => ({
    offset: from + i + 1,
    producer: null,
    seq: null,
    from: null,
    ts: 0,
    data: new Uint8Array(size),
  }))
  return { messages, count, first: from + 1, next: from + count, bytes: count * size, full }
}

describe('ChunkCache', () => {
  it('serves a full chunk whatever the head, and a partial one only while the head stays', () => {
    const cache = new ChunkCache(1_000_000)
    cache.set('s', 'e', 0, chunk(0, 5, true))
    cache.set('s', 'e', 5, chunk(5, 2, false))
    expect(cache.get('s', 'e', 0, 100)?.next).toBe(5)
    expect(cache.get('s', 'e', 5, 7)?.next).toBe(7)
    expect(cache.get('s', 'e', 5, 8)).toBeUndefined()
    expect(cache.get('s', 'e', 5, 7)).toBeUndefined()
  })

  it('keys by stream and epoch', () => {
    const cache = new ChunkCache(1_000_000)
    cache.set('s', 'e1', 0, chunk(0, 5, true))
    expect(cache.get('s', 'e2', 0, 5)).toBeUndefined()
    expect(cache.get('t', 'e1', 0, 5)).toBeUndefined()
  })

  it('evicts the least recently used chunks beyond its byte bound', () => {
    const cache = new ChunkCache(2_000)
    cache.set('s', 'e', 0, chunk(0, 1, true, 450))
    cache.set('s', 'e', 1, chunk(1, 1, true, 450))
    cache.get('s', 'e', 0, 10)
    cache.set('s', 'e', 2, chunk(2, 1, true, 450))
    cache.set('s', 'e', 3, chunk(3, 1, true, 450))
    expect(cache.get('s', 'e', 1, 10)).toBeUndefined()
    expect(cache.get('s', 'e', 0, 10)).toBeDefined()
    expect(cache.get('s', 'e', 3, 10)).toBeDefined()
  })
})
