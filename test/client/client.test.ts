import {
  ClientErrorCode,
  createClient,
  MemoryStorage,
  type Message,
  type PresenceEvent,
  type SeqlineClient,
  SeqlineError,
  type Storage,
} from '@seqline/client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FlakyStorage } from '../support/flaky-storage.js'
import { FakeServer } from './fake-server.js'

let server: FakeServer
const clients: SeqlineClient[] = []

function client(options: { storage?: Storage; token?: string; heartbeatMs?: number } = {}) {
  const c = createClient({
    url: server.url,
    token: options.token ?? 'alice',
    storage: options.storage ?? new MemoryStorage(),
    backoff: { baseMs: 20, maxMs: 200 },
    ackDelayMs: 5,
    environment: null,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  })
  clients.push(c)
  return c
}

const open = (c: SeqlineClient) => vi.waitFor(() => expect(c.state.kind).toBe('open'), 5000)

beforeEach(async () => {
  server = await FakeServer.start()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await server.close()
})

describe('SeqlineClient over a real socket', () => {
  it('registers once and publishes with the committed offset', async () => {
    const c = client()
    const result = await c.stream('room:a').publish({ text: 'hi' })
    expect(result).toMatchObject({ stream: 'room:a', offset: 1, seq: 0, duplicate: false })
    expect(server.log('room:a')[0]).toMatchObject({ producer: c.clientId, data: { text: 'hi' } })
  })

  it('delivers every message exactly once, in order, while sockets are destroyed at random', async () => {
    const seen = [[], [], []] as number[][]
    const readers = seen.map((list) => {
      const c = client()
      c.stream<number>('room:chaos').subscribe({ onMessage: (m) => void list.push(m.data) })
      return c
    })
    await Promise.all(readers.map(open))
    await vi.waitFor(() => expect(server.conns.size).toBe(3))
    const writer = client({ token: 'bob' })
    const total = 600
    const publishes: Promise<unknown>[] = []
    for (let i = 1; i <= total; i++) {
      publishes.push(writer.stream<number>('room:chaos').publish(i))
      if (i % 97 === 0) server.destroyAll()
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(publishes)
    expect(server.log('room:chaos').map((m) => m.data)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    )
    const expected = Array.from({ length: total }, (_, i) => i + 1)
    await vi.waitFor(() => seen.forEach((list) => expect(list).toEqual(expected)), 10_000)
  })

  it('dedups a duplicated wire and catches up across a gap', async () => {
    const seen: number[] = []
    const c = client()
    c.stream<number>('room:gap').subscribe({ onMessage: (m) => void seen.push(m.data) })
    await open(c)
    await vi.waitFor(() => expect(server.conns.size).toBe(1))
    await vi.waitFor(() => expect(server.frames.some((f) => f.t === 'sub')).toBe(true))
    server.duplicateLive = true
    server.append('room:gap', 1)
    server.dropLive.set('room:gap', 2)
    server.append('room:gap', 2)
    server.append('room:gap', 3)
    server.append('room:gap', 4)
    await vi.waitFor(() => expect(seen).toEqual([1, 2, 3, 4]))
  })

  it('resumes from the stored position in a new client on the same storage', async () => {
    const storage = new MemoryStorage()
    const first: number[] = []
    const a = client({ storage })
    a.stream<number>('room:r').subscribe({ onMessage: (m) => void first.push(m.data) })
    await open(a)
    await vi.waitFor(() => expect(server.frames.some((f) => f.t === 'sub')).toBe(true))
    server.append('room:r', 1)
    server.append('room:r', 2)
    await vi.waitFor(() => expect(first).toEqual([1, 2]))
    await a.close()
    server.append('room:r', 3)
    server.append('room:r', 4)
    const second: number[] = []
    const b = client({ storage })
    const sub = b.stream<number>('room:r').subscribe({ onMessage: (m) => void second.push(m.data) })
    await expect(sub.ready).resolves.toMatchObject({ recovered: true, wasRecovering: true })
    await vi.waitFor(() => expect(second).toEqual([3, 4]))
    expect(b.clientId).toBe(a.clientId)
  })

  it('resyncs from a slow snapshot, delivering only live messages past it', async () => {
    const storage = new MemoryStorage()
    const a = client({ storage })
    const seenA: number[] = []
    a.stream<number>('room:s').subscribe({ onMessage: (m) => void seenA.push(m.data) })
    await open(a)
    await vi.waitFor(() => expect(server.frames.some((f) => f.t === 'sub')).toBe(true))
    server.append('room:s', 1)
    await vi.waitFor(() => expect(seenA).toEqual([1]))
    await a.close()
    for (let i = 2; i <= 10; i++) server.append('room:s', i)
    server.truncate('room:s', 8)

    let releaseSnapshot!: () => void
    const gate = new Promise<void>((resolve) => (releaseSnapshot = resolve))
    const events: string[] = []
    const b = client({ storage })
    b.stream<number>('room:s').subscribe<{
      position: { epoch: string; offset: number }
      items: number[]
    }>({
      onMessage: (m: Message<number>) => void events.push(`msg:${m.data}`),
      snapshot: async (reset) => {
        events.push(`snapshot:${reset.reason}`)
        // Messages committed while the HTTP snapshot is in flight.
        server.append('room:s', 11)
        server.append('room:s', 12)
        await gate
        const { epoch } = server.head('room:s')
        return { position: { epoch, offset: 11 }, items: [] }
      },
      onReset: (e) => events.push(`reset:${e.position.offset}`),
    })
    await vi.waitFor(() => expect(events).toEqual(['snapshot:truncated']))
    server.append('room:s', 13)
    releaseSnapshot()
    await vi.waitFor(() =>
      expect(events).toEqual(['snapshot:truncated', 'reset:11', 'msg:12', 'msg:13']),
    )
  })

  it('queues publishes while offline and commits each exactly once, in order', async () => {
    server.refuse()
    const c = client()
    const results = Array.from({ length: 100 }, (_, i) => c.stream<number>('room:o').publish(i))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(c.pendingPublishes).toBe(100)
    server.accept()
    const offsets = (await Promise.all(results)).map((r) => r.offset)
    expect(offsets).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(server.log('room:o').map((m) => m.data)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    )
  })

  it('re-sends pending publishes from a new client on the same storage without duplicates', async () => {
    const storage = new MemoryStorage()
    const a = client({ storage })
    await open(a)
    server.losePubacks = true // committed, but the client never learns it
    const lost = Array.from({ length: 20 }, (_, i) => a.stream('room:p').publish(i))
    await vi.waitFor(() => expect(server.log('room:p')).toHaveLength(20))
    await a.close()
    await Promise.allSettled(lost)
    server.losePubacks = false
    const b = client({ storage })
    await b.ready()
    expect(b.pendingPublishes).toBe(20)
    await b.flushed()
    expect(server.log('room:p').map((m) => m.data)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    await expect(b.stream('room:p').publish('next')).resolves.toMatchObject({ offset: 21, seq: 20 })
  })

  it('commits publishes whose storage writes failed a few times once each, in order', async () => {
    const storage = new FlakyStorage()
    const c = client({ storage })
    const errors: unknown[] = []
    c.on('error', (error) => errors.push(error))
    await c.ready()
    storage.failNextWrites(5)
    const results = Array.from({ length: 20 }, (_, i) => c.stream<number>('room:disk').publish(i))
    const offsets = (await Promise.all(results)).map((r) => r.offset)
    expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(server.log('room:disk').map((m) => m.data)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    )
    expect(storage.refused).toBe(5)
    expect(errors[0]).toMatchObject({ code: ClientErrorCode.STORAGE_FAILED })
    await c.flushed()
    const leftover = async () => (await storage.keys('')).filter((key) => key.includes('/ob/'))
    await vi.waitFor(async () => expect(await leftover()).toEqual([]))
  })

  it('replaces a blackholed connection within two heartbeat intervals', async () => {
    const c = client({ heartbeatMs: 200 })
    await open(c)
    const first = c.state.kind === 'open' ? c.state.connectionId : ''
    const lostAt = Date.now()
    server.blackhole()
    await vi.waitFor(() => {
      expect(c.state.kind).toBe('open')
      expect(c.state.kind === 'open' && c.state.connectionId).not.toBe(first)
    }, 2000)
    expect(Date.now() - lostAt).toBeLessThan(2 * 200 + 150)
  })

  it('gives a duplicated tab that presents a live client id a fresh client', async () => {
    const storage = new MemoryStorage()
    const a = client({ storage })
    await open(a)
    const copied = new MemoryStorage()
    await copied.set('identity', await storage.get('identity'))
    const b = client({ storage: copied })
    const identity = new Promise((resolve) => b.on('identity', resolve))
    await expect(identity).resolves.toMatchObject({ replaced: 'in-use' })
    expect(b.clientId).not.toBe(a.clientId)
  })

  it('registers again and re-sends the outbox when its client id was garbage-collected', async () => {
    const storage = new MemoryStorage()
    const a = client({ storage })
    await open(a)
    const oldId = a.clientId!
    await a.close()
    server.forgetClient(oldId)
    server.refuse(false)
    const b = client({ storage })
    const pending = b.stream('room:gc').publish('kept')
    const identity = new Promise((resolve) => b.on('identity', resolve))
    server.accept()
    await expect(identity).resolves.toMatchObject({ replaced: 'unknown' })
    await expect(pending).resolves.toMatchObject({ offset: 1 })
    expect(server.log('room:gc')[0]).toMatchObject({ producer: b.clientId, data: 'kept' })
    expect(b.clientId).not.toBe(oldId)
  })

  it('reconnects after a goaway and delivers signals and presence', async () => {
    const a = client()
    const b = client({ token: 'bob' })
    const signals: unknown[] = []
    const presence: unknown[] = []
    a.stream('room:x').on('signal', (s) => signals.push(s))
    a.stream('room:x').on('presence', (p) => presence.push(p))
    a.stream('room:x').subscribe({ onMessage: () => {} })
    b.stream('room:x').subscribe({ onMessage: () => {} })
    await Promise.all([open(a), open(b)])
    await vi.waitFor(() =>
      expect(presence.at(-1)).toMatchObject({ count: { users: 2, clients: 2 }, complete: true }),
    )
    server.goaway(50)
    await vi.waitFor(() => expect(server.conns.size).toBe(2), 3000)
    await open(b)
    await vi.waitFor(() => {
      b.stream('room:x').signal({ typing: true })
      expect(signals).toContainEqual({ stream: 'room:x', from: 'bob', data: { typing: true } })
    })
  })

  it('applies presence snapshots and diffs that add, update and remove users, with the server counts', async () => {
    const c = client()
    const room = c.stream('room:crowd')
    const events: PresenceEvent[] = []
    room.on('presence', (event) => events.push(event))
    room.subscribe({ onMessage: () => {} })
    await vi.waitFor(() => expect(events).toHaveLength(1)) // the server's snapshot on sub
    server.broadcast({
      t: 'presence',
      stream: 'room:crowd',
      users: [
        { user: 'ann', clients: 1 },
        { user: 'ben', clients: 2 },
      ],
      count: { users: 40, clients: 57 },
      complete: false,
    })
    server.broadcast({
      t: 'presenceDiff',
      stream: 'room:crowd',
      changes: [
        { user: 'ann', clients: 0 },
        { user: 'ben', clients: 3 },
        { user: 'cat', clients: 1 },
      ],
      count: { users: 40, clients: 58 },
    })
    await vi.waitFor(() => expect(events).toHaveLength(3))
    expect(events[2]).toEqual({
      stream: 'room:crowd',
      users: [
        { user: 'ben', clients: 3 },
        { user: 'cat', clients: 1 },
      ],
      count: { users: 40, clients: 58 },
      complete: false,
    })
    expect(room.presenceCount()).toEqual({ users: 40, clients: 58 })
    expect(room.presenceComplete()).toBe(false)
    const afterLoss = new Promise((resolve) =>
      c.on('state', ({ from, to }) => {
        if (from.kind === 'open' && to.kind !== 'open') {
          resolve({ users: room.presence(), count: room.presenceCount() })
        }
      }),
    )
    server.destroyAll()
    await expect(afterLoss).resolves.toEqual({ users: [], count: { users: 0, clients: 0 } })
  })

  it('closes with an error on UNAUTHENTICATED', async () => {
    const c = client({ token: 'bad' })
    await vi.waitFor(() =>
      expect(c.state).toMatchObject({ kind: 'closed', error: { code: 'UNAUTHENTICATED' } }),
    )
    await expect(c.stream('room:z').publish(1)).rejects.toMatchObject({
      code: ClientErrorCode.CLIENT_CLOSED,
    })
  })

  it('closes with the same SeqlineError whether the hello or an open connection is refused', async () => {
    const refusedHello = client({ token: 'bad' })
    const refusedLater = client()
    await open(refusedLater)
    server.broadcast({ t: 'error', code: 'UNAUTHENTICATED', message: 'token no longer valid' })
    for (const c of [refusedHello, refusedLater]) {
      await vi.waitFor(() => expect(c.state.kind).toBe('closed'))
      const error = c.state.kind === 'closed' ? c.state.error : undefined
      expect(error).toBeInstanceOf(SeqlineError)
      expect(error).toMatchObject({ name: 'SeqlineError', code: 'UNAUTHENTICATED' })
    }
  })

  it('supports for-await iteration', async () => {
    const c = client()
    const got: number[] = []
    const iterate = (async () => {
      for await (const m of c.stream<number>('room:it').messages({ from: 'earliest' })) {
        got.push(m.data)
        if (got.length === 3) break
      }
    })()
    server.append('room:it', 1)
    await open(c)
    server.append('room:it', 2)
    server.append('room:it', 3)
    await iterate
    expect(got).toEqual([1, 2, 3])
  })
})
