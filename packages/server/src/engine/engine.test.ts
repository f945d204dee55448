import type { ServerFrame } from '@seqline/protocol'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../store/memory-store.js'
import { Engine } from './engine.js'
import type { FrameSink } from './frame-sink.js'
import type { FramedMessage } from './message-frame.js'
import type { Session } from './subscription.js'

/** A sink whose kernel buffer we control: frames stay "unflushed" until `flush()`. */
class ManualSink implements FrameSink {
  readonly frames: ServerFrame[] = []
  closed = false
  #unflushedBytes = 0
  #waiters: (() => void)[] = []
  constructor(
    readonly id: string,
    private readonly autoFlush: boolean,
  ) {}
  get bufferedAmount(): number {
    return this.#unflushedBytes
  }
  send(frame: Buffer): void {
    this.frames.push(JSON.parse(frame.toString()) as ServerFrame)
    if (!this.autoFlush) this.#unflushedBytes += frame.byteLength
  }
  sendMessage(message: FramedMessage): void {
    this.send(message.frame)
  }
  batch(write: () => void): void {
    write()
  }
  whenDrained(): Promise<void> {
    if (this.#unflushedBytes === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }
  flush(): void {
    this.#unflushedBytes = 0
    const waiters = this.#waiters
    this.#waiters = []
    waiters.forEach((w) => w())
  }
  offsets(stream: string): number[] {
    return this.frames.flatMap((f) => (f.t === 'msg' && f.stream === stream ? [f.offset] : []))
  }
  of<T extends ServerFrame['t']>(t: T): Extract<ServerFrame, { t: T }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { t: T }> => f.t === t)
  }
}

const engines: Engine[] = []
async function newEngine(options: Partial<ConstructorParameters<typeof Engine>[0]> = {}) {
  const store = new MemoryStore()
  await store.init()
  const engine = new Engine({ store, logger: pino({ level: 'silent' }), ...options })
  engines.push(engine)
  return engine
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()))
})

function session(sink: FrameSink, userId = 'alice', clientId = 'c1'): Session {
  return { connectionId: sink.id, userId, clientId, sink }
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setImmediate(r))
  expect(check()).toBe(true)
}

describe('Engine', () => {
  it('commits appends that arrive in one tick in one batch, with gapless offsets', async () => {
    const engine = await newEngine()
    let batches = 0
    const append = engine.store.append.bind(engine.store)
    engine.store.append = (batch) => {
      batches += 1
      return append(batch)
    }
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.publish('room:a', { i })),
    )
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(batches).toBe(1)
  })

  it('delivers live messages to every subscriber from one shared frame', async () => {
    const engine = await newEngine()
    const sinks = [new ManualSink('k1', true), new ManualSink('k2', true)]
    for (const [i, sink] of sinks.entries()) {
      await engine.subscribe(session(sink, 'u', `c${i}`), 'room:a', 'latest')
    }
    for (let i = 0; i < 10; i++) await engine.publish('room:a', { i })
    await until(() => sinks.every((s) => s.offsets('room:a').length === 10))
    for (const sink of sinks) {
      expect(sink.offsets('room:a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(sink.of('caughtUp')).toHaveLength(1)
    }
  })

  it('replays from a position, then sends caughtUp with recovered', async () => {
    const engine = await newEngine()
    let epoch = ''
    for (let i = 0; i < 20; i++) epoch = (await engine.publish('room:a', { i })).epoch
    const sink = new ManualSink('k1', true)
    await engine.subscribe(session(sink), 'room:a', { epoch, offset: 5 })
    await until(() => sink.of('caughtUp').length === 1)
    expect(sink.offsets('room:a')).toEqual(Array.from({ length: 15 }, (_, i) => i + 6))
    expect(sink.of('caughtUp')[0]).toMatchObject({ head: 20, recovered: true })
  })

  it('stops writing above the high-water mark and resumes from the store after a drain', async () => {
    const engine = await newEngine({ highWaterMark: 2000, windowBytes: 4000, pageSize: 50 })
    const sink = new ManualSink('k1', false)
    await engine.subscribe(session(sink), 'room:a', 'latest')
    await until(() => sink.of('caughtUp').length === 1)
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => engine.publish('room:a', { i, pad: 'x'.repeat(50) })),
    )
    await new Promise((r) => setTimeout(r, 20))
    // Paused: only about a high-water mark's worth was written.
    const written = sink.offsets('room:a').length
    expect(written).toBeLessThan(40)
    for (let i = 0; i < 500 && sink.offsets('room:a').length < 1000; i++) {
      sink.flush()
      await new Promise((r) => setImmediate(r))
    }
    expect(sink.offsets('room:a')).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
  })

  it('resets a subscriber whose position was trimmed and continues live from the head', async () => {
    const engine = await newEngine()
    let epoch = ''
    for (let i = 0; i < 10; i++) epoch = (await engine.publish('room:a', { i })).epoch
    await engine.store.trim('room:a', { policy: { maxCount: 3 }, now: Date.now() })
    const sink = new ManualSink('k1', true)
    await engine.subscribe(session(sink), 'room:a', { epoch, offset: 2 })
    expect(sink.of('reset')[0]).toMatchObject({ reason: 'truncated', head: 10, tail: 8 })
    await engine.publish('room:a', { i: 10 })
    await until(() => sink.offsets('room:a').length === 1)
    expect(sink.offsets('room:a')).toEqual([11])
  })

  it('resumes from the client cursor when no position is given', async () => {
    const engine = await newEngine()
    for (let i = 0; i < 5; i++) await engine.publish('room:a', { i })
    const { clientId } = await engine.registerClient('alice')
    await engine.ack('alice', clientId, 'room:a', 3)
    await engine.flushCursors()
    const sink = new ManualSink('k1', true)
    await engine.subscribe(session(sink, 'alice', clientId), 'room:a')
    await until(() => sink.of('caughtUp').length === 1)
    expect(sink.offsets('room:a')).toEqual([4, 5])
  })

  it('refuses an ack past the head', async () => {
    const engine = await newEngine()
    await engine.publish('room:a', 1)
    await expect(engine.ack('alice', 'c1', 'room:a', 2)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
  })

  it('sends presence snapshots and deltas, and signals to others only', async () => {
    const engine = await newEngine()
    const a = new ManualSink('ka', true)
    const b = new ManualSink('kb', true)
    await engine.subscribe(session(a, 'alice', 'ca'), 'room:a', 'latest')
    await engine.subscribe(session(b, 'bob', 'cb'), 'room:a', 'latest')
    expect(a.of('presence')[0]?.users).toEqual([])
    expect(b.of('presence')[0]?.users).toEqual([{ user: 'alice', clients: 1 }])
    expect(a.of('presenceDiff')).toContainEqual({
      t: 'presenceDiff',
      stream: 'room:a',
      changes: [{ user: 'bob', clients: 1 }],
      count: { users: 2, clients: 2 },
    })
    await engine.signal(session(a, 'alice', 'ca'), 'room:a', { typing: true })
    expect(b.of('signal')).toEqual([
      { t: 'signal', stream: 'room:a', from: 'alice', data: { typing: true } },
    ])
    expect(a.of('signal')).toEqual([])
  })

  it('refuses a subscription the authorize hook denies', async () => {
    const engine = await newEngine({ authorize: (user, stream) => stream === `user:${user}` })
    const sink = new ManualSink('k', true)
    await expect(engine.subscribe(session(sink), 'user:bob', 'latest')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await engine.subscribe(session(sink), 'user:alice', 'latest')
    expect(sink.of('msg')).toEqual([])
  })

  it('verifies that a client belongs to the user and has the right secret', async () => {
    const engine = await newEngine()
    const { clientId, secret } = await engine.registerClient('alice')
    await expect(engine.verifyClient('alice', clientId, secret)).resolves.toMatchObject({
      userId: 'alice',
    })
    await expect(engine.verifyClient('mallory', clientId, secret)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await expect(engine.verifyClient('alice', clientId, 'wrong')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await expect(engine.verifyClient('alice', 'c_nope', secret)).rejects.toMatchObject({
      code: 'CLIENT_UNKNOWN',
    })
  })

  it('limits clients per user', async () => {
    const engine = await newEngine({ limits: { maxClientsPerUser: 2 } })
    await engine.registerClient('alice')
    await engine.registerClient('alice')
    await expect(engine.registerClient('alice')).rejects.toMatchObject({ code: 'TOO_MANY_CLIENTS' })
  })

  it('garbage-collects clients not seen for the TTL but never connected ones', async () => {
    let now = 1_000_000
    const engine = await newEngine({ clientTtlMs: 1000, now: () => now })
    const idle = await engine.registerClient('alice')
    const busy = await engine.registerClient('alice')
    const disconnect = engine.clientConnected(busy.clientId)
    now += 5000
    expect(await engine.runClientGc()).toBe(1)
    expect(await engine.store.getClient(idle.clientId)).toBeUndefined()
    expect(await engine.store.getClient(busy.clientId)).toBeDefined()
    disconnect()
  })

  it('applies the retention policy on its periodic run, advancing the tail', async () => {
    let now = 1_000_000
    const engine = await newEngine({
      now: () => now,
      retention: { defaultPolicy: { maxAgeMs: 1000 } },
    })
    for (let i = 0; i < 5; i++) await engine.publish('room:a', { i })
    now += 2000
    for (let i = 0; i < 2; i++) await engine.publish('room:a', { i })
    await engine.runRetention()
    expect(await engine.getStream('room:a')).toMatchObject({ head: 7, tail: 6 })
  })
  it('never trims what a held live reader still needs, and trims once it is released', async () => {
    const engine = await newEngine({ retention: { defaultPolicy: { maxCount: 2 } } })
    for (let i = 0; i < 10; i++) await engine.publish('room:a', { i })
    const release = engine.holdRetention('room:a', () => 4)
    await engine.runRetention()
    expect(await engine.getStream('room:a')).toMatchObject({ head: 10, tail: 4 })
    release()
    await engine.runRetention()
    expect(await engine.getStream('room:a')).toMatchObject({ head: 10, tail: 9 })
  })
  it('wakes the followers of a stream when a new subscriber finds a head the node missed', async () => {
    // Two nodes on one store, no bus: node B's commit is unknown to node A until someone asks.
    const a = await newEngine()
    const b = new Engine({ store: a.store, logger: pino({ level: 'silent' }) })
    engines.push(b)
    const first = new ManualSink('k1', true)
    await a.subscribe(session(first, 'alice', 'c1'), 'room:a', 'latest')
    await b.publish('room:a', { from: 'b' })
    const second = new ManualSink('k2', true)
    await a.subscribe(session(second, 'bob', 'c2'), 'room:a', {
      epoch: (await a.getStream('room:a'))!.epoch,
      offset: 0,
    })
    await until(() => second.offsets('room:a').length === 1)
    await until(() => first.offsets('room:a').length === 1)
    expect(first.offsets('room:a')).toEqual([1])
  })
  it('never trims what a subscription behind the head still has to send', async () => {
    const engine = await newEngine({
      retention: { defaultPolicy: { maxCount: 2 } },
      highWaterMark: 100,
    })
    const sink = new ManualSink('k1', false)
    await engine.subscribe(session(sink), 'room:a', 'latest')
    await until(() => sink.of('caughtUp').length === 1)
    for (let i = 0; i < 10; i++) await engine.publish('room:a', { i, pad: 'x'.repeat(80) })
    // The sink stopped the pump above its high-water mark, a message or two in.
    const sent = sink.offsets('room:a').length
    expect(sent).toBeLessThan(10)
    await engine.runRetention()
    expect((await engine.getStream('room:a'))?.tail).toBe(sent + 1)
    for (let i = 0; i < 100 && sink.offsets('room:a').length < 10; i++) {
      sink.flush()
      await new Promise((r) => setImmediate(r))
    }
    expect(sink.offsets('room:a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })
})
