import { describe, expect, it } from 'vitest'
import { FlakyStorage } from '../../../test/support/flaky-storage.js'
import type { ClientError } from './client-error.js'
import { ManualClock } from './manual-clock.js'
import { StorageWriter } from './storage-writer.js'

function setup() {
  const clock = new ManualClock()
  const storage = new FlakyStorage()
  const errors: ClientError[] = []
  const writer = new StorageWriter({
    storage,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 8000 },
    onError: (error) => errors.push(error),
  })
  return { clock, storage, errors, writer }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('StorageWriter', () => {
  it('reports a failed write and retries it with backoff until it is stored', async () => {
    const { clock, storage, errors, writer } = setup()
    storage.failNextWrites(2)
    let written = false
    void writer.write([{ key: 'a', value: 1 }]).then(() => (written = true))
    await settle()
    expect(errors.map((e) => e.code)).toEqual(['STORAGE_FAILED'])
    expect(writer.state.kind).toBe('retrying')
    clock.advance(499)
    await settle()
    expect(errors).toHaveLength(1)
    clock.advance(1)
    await settle()
    expect(errors).toHaveLength(2)
    clock.advance(1000)
    await settle()
    expect(written).toBe(true)
    expect(await storage.get('a')).toBe(1)
    expect(writer.state.kind).toBe('idle')
    expect(clock.pending).toBe(0)
  })

  it('writes the newest value of a key and resolves the waiters of older ones with it', async () => {
    const { storage, writer } = setup()
    const first = writer.write([{ key: 'a', value: 1 }])
    const second = writer.write([{ key: 'a', value: 2 }])
    const third = writer.write([
      { key: 'a', value: 3 },
      { key: 'b', delete: true },
    ])
    await Promise.all([first, second, third])
    expect(await storage.get('a')).toBe(3)
  })

  it('resolves a write of several keys only when every one of them is stored', async () => {
    const { clock, storage, writer } = setup()
    await writer.write([{ key: 'b', value: 0 }])
    storage.failNextWrites(1)
    let written = false
    void writer
      .write([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ])
      .then(() => (written = true))
    await settle()
    expect(written).toBe(false)
    clock.advance(1000)
    await settle()
    expect(written).toBe(true)
    expect([await storage.get('a'), await storage.get('b')]).toEqual([1, 2])
  })

  it('makes one last attempt on close and leaves nothing scheduled', async () => {
    const { clock, storage, writer } = setup()
    storage.failNextWrites(1)
    void writer.write([{ key: 'a', value: 1 }])
    await settle()
    expect(writer.state.kind).toBe('retrying')
    await writer.close()
    expect(await storage.get('a')).toBe(1)
    expect(writer.state.kind).toBe('closed')
    expect(clock.pending).toBe(0)
  })
})
