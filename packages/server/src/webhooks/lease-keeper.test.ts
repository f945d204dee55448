import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../observability/logger.js'
import { MemoryStore } from '../store/memory-store.js'
import { SqliteStore } from '../store/sqlite-store.js'
import type { Store } from '../store/store.js'
import { LeaseKeeper } from './lease-keeper.js'

const logger = createLogger({ level: 'silent' })
const TTL = 300

/** A keeper of the `webhooks` lease whose job is a flag. */
function keeper(store: Store, holder: string) {
  const job = { running: false, starts: 0 }
  const lease = new LeaseKeeper({
    store,
    name: 'webhooks',
    holder,
    ttlMs: TTL,
    acquired: async () => {
      job.running = true
      job.starts += 1
    },
    lost: async () => {
      job.running = false
    },
    logger,
  })
  return { lease, job }
}

describe('LeaseKeeper', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs the job on one of two nodes and hands it over when that one stops', async () => {
    const store = new MemoryStore()
    const a = keeper(store, 'a')
    const b = keeper(store, 'b')
    await a.lease.start()
    await b.lease.start()
    expect([a.job.running, b.job.running]).toEqual([true, false])
    await vi.advanceTimersByTimeAsync(5 * TTL)
    // Renewed all along: still a's.
    expect([a.lease.held, b.lease.held]).toEqual([true, false])
    await a.lease.stop()
    expect(a.job.running).toBe(false)
    // Released: b takes it at its next claim, without waiting for the TTL.
    await vi.advanceTimersByTimeAsync(TTL / 3)
    expect([a.job.running, b.job.running]).toEqual([false, true])
    await b.lease.stop()
  })

  it('stops the job when another node took the lease over', async () => {
    const store = new MemoryStore()
    const a = keeper(store, 'a')
    await a.lease.start()
    expect(a.job.running).toBe(true)
    // As after a pause longer than the TTL: the lease expired and another node took it.
    await store.releaseLease('webhooks', 'a')
    expect(await store.claimLease('webhooks', 'b', TTL, Date.now())).toBe(true)
    await vi.advanceTimersByTimeAsync(TTL / 3)
    expect([a.lease.held, a.job.running]).toEqual([false, false])
    // It claims on: once b's lease expires unrenewed, a takes it back.
    await vi.advanceTimersByTimeAsync(TTL)
    expect([a.lease.held, a.job.running, a.job.starts]).toEqual([true, true, 2])
    await a.lease.stop()
  })

  it('stops the job before its lease can have expired when the store cannot be reached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seqline-lease-'))
    const store = new SqliteStore({ path: join(dir, 'seqline.db') })
    await store.init()
    try {
      const a = keeper(store, 'a')
      await a.lease.start()
      expect(a.job.running).toBe(true)
      await store.close()
      // The renewal at TTL/3 fails, yet the lease still covers the next attempt: the job goes on.
      await vi.advanceTimersByTimeAsync(TTL / 3)
      expect(a.job.running).toBe(true)
      // The next one fails too, and the lease would expire before the one after: stop now.
      await vi.advanceTimersByTimeAsync(TTL / 3)
      expect([a.lease.held, a.job.running]).toEqual([false, false])
      await a.lease.stop()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
