import type { ServerFrame } from '@seqline/protocol'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { allowAll, type Authorize } from '../auth/authenticator.js'
import { eventFrame } from '../connection/event-frame.js'
import { msgFrameText } from '../connection/msg-frame.js'
import { createMetrics } from '../observability/metrics.js'
import { resolveSettings } from '../settings/resolve-settings.js'
import type { ServerSettingsInput } from '../settings/server-settings.js'
import { MemoryStore } from '../store/memory-store.js'
import type { CommittedMessage } from './committed-message.js'
import { Engine } from './engine.js'
import type { DeliveryEvent, Follower } from './follower.js'
import type { EngineSession } from './session.js'

/** A follower whose peer we control: bytes stay "unread" until `flush()` (unless auto). */
class TestFollower implements Follower {
  readonly frames: ServerFrame[] = []
  closed = false
  #unread = 0
  #waiters: (() => void)[] = []
  constructor(
    readonly id: string,
    private readonly autoFlush: boolean,
  ) {}
  get bufferedAmount(): number {
    return this.#unread
  }
  message(message: CommittedMessage): void {
    const text = msgFrameText(message)
    this.frames.push(JSON.parse(text) as ServerFrame)
    if (!this.autoFlush) this.#unread += text.length
  }
  event(event: DeliveryEvent): void {
    this.frames.push(eventFrame(event))
  }
  batch(write: () => void): void {
    write()
  }
  whenDrained(): Promise<void> {
    if (this.#unread === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }
  flush(): void {
    this.#unread = 0
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
async function newEngine(
  settings: ServerSettingsInput = {},
  deps: { store?: MemoryStore; authorize?: Authorize; now?: () => number } = {},
): Promise<{ engine: Engine; store: MemoryStore }> {
  const store = deps.store ?? new MemoryStore()
  if (deps.store === undefined) await store.init()
  const engine = new Engine(
    {
      store,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
      authorize: deps.authorize ?? allowAll,
      now: deps.now,
    },
    resolveSettings({ presence: { intervalMs: 0 }, ...settings }),
  )
  engines.push(engine)
  return { engine, store }
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()))
})

function open(
  engine: Engine,
  follower: Follower,
  userId = 'alice',
  clientId = 'c1',
): EngineSession {
  return engine.sessions.open({
    connectionId: follower.id,
    principal: { userId, claims: {} },
    clientId,
    follower,
    ending: { ended: () => {} },
  })
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setImmediate(r))
  expect(check()).toBe(true)
}

describe('Engine', () => {
  it('commits appends that arrive in one tick in one batch, with gapless offsets', async () => {
    const { engine, store } = await newEngine()
    let batches = 0
    const append = store.append.bind(store)
    store.append = (batch) => {
      batches += 1
      return append(batch)
    }
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.streams.publish('room:a', { i })),
    )
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(batches).toBe(1)
  })

  it('delivers live messages to every subscriber from one shared message object', async () => {
    const { engine } = await newEngine()
    const seen: CommittedMessage[][] = [[], []]
    const followers = [new TestFollower('k1', true), new TestFollower('k2', true)]
    followers.forEach((f, i) => {
      const message = f.message.bind(f)
      f.message = (m) => {
        seen[i]?.push(m)
        message(m)
      }
    })
    for (const [i, follower] of followers.entries()) {
      await open(engine, follower, 'u', `c${i}`).subscribe('room:a', 'latest')
    }
    for (let i = 0; i < 10; i++) await engine.streams.publish('room:a', { i })
    await until(() => followers.every((f) => f.offsets('room:a').length === 10))
    for (const follower of followers) {
      expect(follower.offsets('room:a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(follower.of('caughtUp')).toHaveLength(1)
    }
    // Serialise-once fan-out: both followers were handed the very same objects.
    seen[0]?.forEach((m, i) => expect(seen[1]?.[i]).toBe(m))
  })

  it('hands a follower all of one commit’s messages of its stream in one write', async () => {
    const { engine } = await newEngine()
    const follower = new TestFollower('k1', true)
    const writes: number[] = []
    follower.batch = (write) => {
      const before = follower.offsets('room:a').length
      write()
      writes.push(follower.offsets('room:a').length - before)
    }
    await open(engine, follower).subscribe('room:a', 'latest')
    // 20 publishes in one tick, interleaved with another stream: one group commit.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        engine.streams.publish(i % 2 === 0 ? 'room:a' : 'room:b', { i }),
      ),
    )
    await until(() => follower.offsets('room:a').length === 10)
    expect(follower.offsets('room:a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(writes.filter((n) => n > 0)).toEqual([10])
  })

  it('replays from a position, then sends caughtUp with recovered', async () => {
    const { engine } = await newEngine()
    let epoch = ''
    for (let i = 0; i < 20; i++) epoch = (await engine.streams.publish('room:a', { i })).epoch
    const follower = new TestFollower('k1', true)
    await open(engine, follower).subscribe('room:a', { epoch, offset: 5 })
    await until(() => follower.of('caughtUp').length === 1)
    expect(follower.offsets('room:a')).toEqual(Array.from({ length: 15 }, (_, i) => i + 6))
    expect(follower.of('caughtUp')[0]).toMatchObject({ head: 20, recovered: true })
  })

  it('stops writing above the high-water mark and resumes from the store after a drain', async () => {
    const { engine } = await newEngine({
      delivery: { highWaterMark: 2000, windowBytes: 4000, pageSize: 50 },
    })
    const follower = new TestFollower('k1', false)
    await open(engine, follower).subscribe('room:a', 'latest')
    await until(() => follower.of('caughtUp').length === 1)
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        engine.streams.publish('room:a', { i, pad: 'x'.repeat(50) }),
      ),
    )
    await new Promise((r) => setTimeout(r, 20))
    // Paused: only about a high-water mark's worth was written.
    expect(follower.offsets('room:a').length).toBeLessThan(40)
    for (let i = 0; i < 500 && follower.offsets('room:a').length < 1000; i++) {
      follower.flush()
      await new Promise((r) => setImmediate(r))
    }
    expect(follower.offsets('room:a')).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
  })

  it('resets a subscriber whose position was trimmed and continues live from the head', async () => {
    const { engine, store } = await newEngine()
    let epoch = ''
    for (let i = 0; i < 10; i++) epoch = (await engine.streams.publish('room:a', { i })).epoch
    await store.trim('room:a', { policy: { maxCount: 3 }, now: Date.now() })
    const follower = new TestFollower('k1', true)
    await open(engine, follower).subscribe('room:a', { epoch, offset: 2 })
    expect(follower.of('reset')[0]).toMatchObject({ reason: 'truncated', head: 10, tail: 8 })
    await engine.streams.publish('room:a', { i: 10 })
    await until(() => follower.offsets('room:a').length === 1)
    expect(follower.offsets('room:a')).toEqual([11])
  })

  it('resumes from the client cursor when no position is given', async () => {
    const { engine } = await newEngine()
    for (let i = 0; i < 5; i++) await engine.streams.publish('room:a', { i })
    const { clientId } = await engine.clients.register('alice')
    await engine.cursors.ack(clientId, 'room:a', 3)
    const follower = new TestFollower('k1', true)
    await open(engine, follower, 'alice', clientId).subscribe('room:a')
    await until(() => follower.of('caughtUp').length === 1)
    expect(follower.offsets('room:a')).toEqual([4, 5])
  })

  it('refuses an ack past the head', async () => {
    const { engine } = await newEngine()
    await engine.streams.publish('room:a', 1)
    await expect(engine.cursors.ack('c1', 'room:a', 2)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
  })

  it('subscribes to a stream that does not exist without creating it, and delivers its first message', async () => {
    const { engine, store } = await newEngine()
    const follower = new TestFollower('k1', true)
    await open(engine, follower).subscribe('room:later')
    await until(() => follower.of('caughtUp').length === 1)
    expect(follower.of('caughtUp')[0]).toMatchObject({ head: 0, epoch: '' })
    expect(await store.getStream('room:later')).toBeUndefined()
    const { epoch } = await engine.streams.publish('room:later', { first: true })
    await until(() => follower.offsets('room:later').length === 1)
    expect(follower.of('msg')[0]).toMatchObject({ offset: 1, epoch })
  })

  it('sends a presence snapshot, then coalesced diffs, and signals to others only', async () => {
    const { engine } = await newEngine({ presence: { intervalMs: 10_000 } })
    const a = new TestFollower('ka', true)
    const b = new TestFollower('kb', true)
    const alice = open(engine, a, 'alice', 'ca')
    await alice.subscribe('room:a', 'latest')
    await open(engine, b, 'bob', 'cb').subscribe('room:a', 'latest')
    expect(a.of('presence')[0]).toMatchObject({ users: [{ user: 'alice', clients: 1 }] })
    expect(b.of('presence')[0]).toMatchObject({
      users: [
        { user: 'alice', clients: 1 },
        { user: 'bob', clients: 1 },
      ],
      count: { users: 2, clients: 2 },
      complete: true,
    })
    // Nothing more until the interval ends: joins are coalesced.
    expect(a.of('presenceDiff')).toEqual([])
    await alice.signal('room:a', { typing: true })
    expect(b.of('signal')).toEqual([
      { t: 'signal', stream: 'room:a', from: 'alice', data: { typing: true } },
    ])
    expect(a.of('signal')).toEqual([])
  })

  it('shares one presence snapshot among the joins of an interval once a room outgrows it', async () => {
    const { engine } = await newEngine({ presence: { intervalMs: 60_000, snapshotUsers: 5 } })
    const snapshots = new Set<DeliveryEvent>()
    const followers: TestFollower[] = []
    const join = async (i: number): Promise<EngineSession> => {
      const follower = new TestFollower(`k${i}`, true)
      const event = follower.event.bind(follower)
      follower.event = (e) => {
        if (e.kind === 'presence') snapshots.add(e)
        event(e)
      }
      followers.push(follower)
      const session = open(engine, follower, `u${i}`, `c${i}`)
      await session.subscribe('room:a', 'latest')
      return session
    }
    const sessions: EngineSession[] = []
    for (let i = 0; i < 50; i++) sessions.push(await join(i))
    // Rebuilt while every user fits in it (u0 … u4, then the join that outgrew it), then shared:
    // later joins change only the count.
    expect(snapshots.size).toBe(6)
    const late = followers[49]?.of('presence')[0]
    expect(late?.users.map((u) => u.user)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4'])
    expect(late?.complete).toBe(false)
    // The flush sends every member the changes since (here, more than a snapshot lists: a fresh
    // snapshot), with the room's true count.
    engine.presence.flush()
    for (const follower of followers) {
      const last = follower.frames
        .filter((f) => f.t === 'presence' || f.t === 'presenceDiff')
        .at(-1)
      expect(last?.t === 'presence' || last?.t === 'presenceDiff' ? last.count : undefined).toEqual(
        { users: 50, clients: 50 },
      )
    }
    // A listed user leaving changes what a snapshot lists: the next joiner gets a new one.
    sessions[0]?.unsubscribe('room:a')
    await join(50)
    const fresh = followers[50]?.of('presence')[0]
    expect(fresh?.users.map((u) => u.user)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5'])
    expect(fresh?.count).toEqual({ users: 50, clients: 50 })
  })

  it('refuses a subscription the authorize hook denies', async () => {
    const { engine } = await newEngine(
      {},
      { authorize: (user, stream) => stream === `user:${user}` },
    )
    const follower = new TestFollower('k', true)
    const session = open(engine, follower)
    await expect(session.subscribe('user:bob', 'latest')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await session.subscribe('user:alice', 'latest')
    expect(follower.of('msg')).toEqual([])
  })

  it('ends subscriptions a revocation no longer allows, with FORBIDDEN', async () => {
    let allowed = true
    const { engine } = await newEngine({}, { authorize: () => allowed })
    const follower = new TestFollower('k', true)
    const session = open(engine, follower)
    await session.subscribe('room:a', 'latest')
    allowed = false
    engine.sessions.revoke('alice')
    await until(() => follower.of('error').length === 1)
    expect(follower.of('error')[0]).toMatchObject({ code: 'FORBIDDEN', stream: 'room:a' })
    expect(session.subscriptions).toHaveLength(0)
  })

  it('verifies that a client belongs to the user and has the right secret', async () => {
    const { engine } = await newEngine()
    const { clientId, secret } = await engine.clients.register('alice')
    await expect(engine.clients.verify('alice', clientId, secret)).resolves.toMatchObject({
      userId: 'alice',
    })
    await expect(engine.clients.verify('mallory', clientId, secret)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await expect(engine.clients.verify('alice', clientId, 'wrong')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    })
    await expect(engine.clients.verify('alice', 'c_nope', secret)).rejects.toMatchObject({
      code: 'CLIENT_UNKNOWN',
    })
  })

  it('registers the clients of one tick in one transaction, limits included', async () => {
    const { engine, store } = await newEngine({ limits: { maxClientsPerUser: 2 } })
    let transactions = 0
    const createClients = store.createClients.bind(store)
    store.createClients = (records) => {
      transactions += 1
      return createClients(records)
    }
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.clients.register(`user-${i}`)),
    )
    expect(new Set(many.map((c) => c.clientId)).size).toBe(50)
    expect(transactions).toBe(1)
    const same = await Promise.allSettled([1, 2, 3].map(() => engine.clients.register('carol')))
    expect(same.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    expect((same[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'TOO_MANY_CLIENTS' })
  })

  it('limits clients per user', async () => {
    const { engine } = await newEngine({ limits: { maxClientsPerUser: 2 } })
    await engine.clients.register('alice')
    await engine.clients.register('alice')
    await expect(engine.clients.register('alice')).rejects.toMatchObject({
      code: 'TOO_MANY_CLIENTS',
    })
  })

  it('garbage-collects clients not seen for the TTL but never connected ones', async () => {
    let now = 1_000_000
    const { engine, store } = await newEngine({ clients: { ttlMs: 1000 } }, { now: () => now })
    const idle = await engine.clients.register('alice')
    const busy = await engine.clients.register('alice')
    const session = open(engine, new TestFollower('k', true), 'alice', busy.clientId)
    now += 5000
    expect(await engine.housekeeping.runClientGc()).toEqual([
      { id: idle.clientId, userId: 'alice' },
    ])
    expect(await store.getClient(idle.clientId)).toBeUndefined()
    expect(await store.getClient(busy.clientId)).toBeDefined()
    session.close()
  })

  it('applies the retention policy on its periodic run, advancing the tail', async () => {
    let now = 1_000_000
    const { engine } = await newEngine(
      { retention: { defaultPolicy: { maxAgeMs: 1000 } } },
      { now: () => now },
    )
    for (let i = 0; i < 5; i++) await engine.streams.publish('room:a', { i })
    now += 2000
    for (let i = 0; i < 2; i++) await engine.streams.publish('room:a', { i })
    await engine.housekeeping.runRetention()
    expect(await engine.streams.get('room:a')).toMatchObject({ head: 7, tail: 6 })
  })

  it('wakes the followers of a stream when a new subscriber finds a head the node missed', async () => {
    // Two nodes on one store, no bus: node B's commit is unknown to node A until someone asks.
    const { engine: a, store } = await newEngine()
    const { engine: b } = await newEngine({}, { store })
    const first = new TestFollower('k1', true)
    await open(a, first, 'alice', 'c1').subscribe('room:a', 'latest')
    await b.streams.publish('room:a', { from: 'b' })
    const second = new TestFollower('k2', true)
    await open(a, second, 'bob', 'c2').subscribe('room:a', {
      epoch: (await a.streams.get('room:a'))!.epoch,
      offset: 0,
    })
    await until(() => second.offsets('room:a').length === 1)
    await until(() => first.offsets('room:a').length === 1)
    expect(first.offsets('room:a')).toEqual([1])
  })

  it('keeps a stream followed for a subscriber that joins while the last one leaves', async () => {
    // The joiner registers the stream's hub, then reads the store; if the last follower leaves
    // during that read and the hub were dropped, the joiner would follow a hub no commit reaches.
    const { engine, store } = await newEngine()
    await engine.streams.publish('room:a', { n: 1 })
    const leaving = open(engine, new TestFollower('k1', true), 'alice', 'c1')
    await leaving.subscribe('room:a', 'latest')
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const getStream = store.getStream.bind(store)
    let reads = 0
    store.getStream = async (name) => {
      // The joiner's second read (inside the hub registration) waits until the other left.
      if (++reads === 2) await held
      return getStream(name)
    }
    const joiner = new TestFollower('k2', true)
    const joining = open(engine, joiner, 'bob', 'c2').subscribe('room:a', 'latest')
    await until(() => reads === 2)
    leaving.close()
    release()
    await joining
    await until(() => joiner.of('caughtUp').length === 1)
    await engine.streams.publish('room:a', { n: 2 })
    await until(() => joiner.offsets('room:a').length === 1)
    expect(joiner.offsets('room:a')).toEqual([2])
  })

  it('never trims what a subscription behind the head still has to send', async () => {
    const { engine } = await newEngine({
      retention: { defaultPolicy: { maxCount: 2 } },
      delivery: { highWaterMark: 100 },
    })
    const follower = new TestFollower('k1', false)
    await open(engine, follower).subscribe('room:a', 'latest')
    await until(() => follower.of('caughtUp').length === 1)
    for (let i = 0; i < 10; i++) await engine.streams.publish('room:a', { i, pad: 'x'.repeat(80) })
    // The follower stopped the pump above its high-water mark, a message or two in.
    const sent = follower.offsets('room:a').length
    expect(sent).toBeLessThan(10)
    await engine.housekeeping.runRetention()
    expect((await engine.streams.get('room:a'))?.tail).toBe(sent + 1)
    for (let i = 0; i < 100 && follower.offsets('room:a').length < 10; i++) {
      follower.flush()
      await new Promise((r) => setImmediate(r))
    }
    expect(follower.offsets('room:a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })
})
