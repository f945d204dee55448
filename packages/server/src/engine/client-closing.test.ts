import { createHash, createHmac } from 'node:crypto'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { allowAll } from '../auth/authenticator.js'
import { type Metrics, createMetrics } from '../observability/metrics.js'
import { resolveSettings } from '../settings/resolve-settings.js'
import { MemoryStore } from '../store/memory-store.js'
import { Engine } from './engine.js'
import type { Follower } from './follower.js'
import type { SessionEnd } from './session.js'

// The closing job on a fake clock: the beacon, the closing tab's own departure, a reload's
// reconnection (here or on another node) and the job's rounds, in every order that matters.

const GRACE = 10_000
/** The default cursor flush (250 ms) sets the closing mark 1 s ahead of the proof. */
const SETTLE = 1_000

const silent: Follower = {
  id: 'f',
  closed: false,
  bufferedAmount: 0,
  whenDrained: () => Promise.resolve(),
  batch: (write) => write(),
  message: () => {},
  event: () => {},
}

class Clock {
  t = 1_800_000_000_000
  readonly now = (): number => this.t
}

const engines: Engine[] = []
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()))
})

/** An engine (a node) on `store`, with the clock `clock`. */
function node(store: MemoryStore, clock: Clock, metrics: Metrics = createMetrics()): Engine {
  const engine = new Engine(
    {
      store,
      logger: pino({ level: 'silent' }),
      metrics,
      authorize: allowAll,
      now: clock.now,
    },
    resolveSettings({ presence: { intervalMs: 0 }, clients: { forgetGraceMs: GRACE } }),
  )
  engines.push(engine)
  return engine
}

async function setUp(): Promise<{ store: MemoryStore; clock: Clock }> {
  const store = new MemoryStore()
  await store.init()
  return { store, clock: new Clock() }
}

/** Opens a session of `clientId`; `ends` collects how the engine ended it. */
function connect(engine: Engine, clientId: string, ends: SessionEnd[] = []) {
  return engine.sessions.open({
    connectionId: `k-${clientId}-${ends.length}`,
    principal: { userId: 'alice', claims: {} },
    clientId,
    follower: silent,
    ending: { ended: (end) => void ends.push(end) },
  })
}

/** The close proof the SDK sends, made with the client's secret. */
function proof(clientId: string, secret: string, ts: number): string {
  const key = createHash('sha256').update(secret).digest()
  const mac = createHmac('sha256', key).update(`seqline-close:${clientId}:${ts}`).digest()
  return JSON.stringify({ ts, mac: mac.toString('base64url') })
}

describe('ClientClosing', () => {
  it('forgets a closed client once unseen for the grace, with its cursors', async () => {
    const { store, clock } = await setUp()
    const metrics = createMetrics()
    const a = node(store, clock, metrics)
    const { clientId, secret } = await a.clients.register('alice')
    await a.streams.publish('room:a', { n: 1 })
    const session = connect(a, clientId)
    await session.ack('room:a', 1)
    await a.cursors.flush()

    const at = clock.t
    await a.closing.close(clientId, proof(clientId, secret, at))
    // The closing tab's own connection ends just after its beacon; its departure is flushed.
    clock.t += 5
    session.close()
    clock.t += 245
    await a.clients.flush()

    clock.t = at + SETTLE + GRACE - 1
    expect(await a.closing.forgetClosed()).toEqual([])
    clock.t = at + SETTLE + GRACE
    expect(await a.closing.forgetClosed()).toEqual([{ id: clientId, userId: 'alice' }])
    expect(await store.getClient(clientId)).toBeUndefined()
    expect(await store.getCursors(clientId)).toEqual([])
    const forgotten = await metrics.clientsForgotten.get()
    expect(forgotten.values).toEqual([{ labels: { reason: 'closed' }, value: 1 }])
  })

  it('keeps a client whose reload reconnects before its closing mark', async () => {
    const { store, clock } = await setUp()
    const a = node(store, clock)
    const { clientId, secret } = await a.clients.register('alice')
    const old = connect(a, clientId)
    const at = clock.t
    await a.closing.close(clientId, proof(clientId, secret, at))
    old.close()
    // The reloaded page is back 300 ms later: its arrival is flushed before the mark's time.
    clock.t += 300
    const reloaded = connect(a, clientId)
    clock.t += 200
    await a.clients.flush()

    for (let round = 1; round * (GRACE / 4) <= SETTLE + 2 * GRACE; round++) {
      clock.t = at + round * (GRACE / 4)
      expect(await a.closing.forgetClosed()).toEqual([])
    }
    expect(await store.getClient(clientId)).toBeDefined()
    reloaded.close()
  })

  it('keeps a client whose reload reconnects to another node', async () => {
    const { store, clock } = await setUp()
    const a = node(store, clock)
    const b = node(store, clock)
    const { clientId, secret } = await a.clients.register('alice')
    const at = clock.t
    await a.closing.close(clientId, proof(clientId, secret, at))
    clock.t += 300
    const reloaded = connect(b, clientId)
    clock.t += 200
    await b.clients.flush()

    // Node B's round marks its recent arrival seen after the mark; node A then forgets nothing.
    clock.t = at + GRACE / 4 + SETTLE
    expect(await b.closing.forgetClosed()).toEqual([])
    clock.t = at + SETTLE + GRACE + 1
    expect(await a.closing.forgetClosed()).toEqual([])
    expect(await store.getClient(clientId)).toBeDefined()
    reloaded.close()
  })

  it('keeps a client whose reload connected before the late beacon arrived', async () => {
    const { store, clock } = await setUp()
    const a = node(store, clock)
    const { clientId, secret } = await a.clients.register('alice')
    const reloaded = connect(a, clientId)
    await a.clients.flush()
    // The old page's beacon, signed before the reload, lands 3 s after the new page connected.
    clock.t += 3_000
    const at = clock.t
    await a.closing.close(clientId, proof(clientId, secret, at - 3_100))
    for (let round = 1; round * (GRACE / 4) <= SETTLE + 2 * GRACE; round++) {
      clock.t = at + round * (GRACE / 4)
      expect(await a.closing.forgetClosed()).toEqual([])
    }
    reloaded.close()
  })

  it('ends the connection a forgotten client still has, for good', async () => {
    const { store, clock } = await setUp()
    const a = node(store, clock)
    const { clientId, secret } = await a.clients.register('alice')
    const ends: SessionEnd[] = []
    connect(a, clientId, ends)
    await a.clients.flush()
    // Connected long ago: the server has not noticed yet that this connection is dead.
    clock.t += 60_000
    const at = clock.t
    await a.closing.close(clientId, proof(clientId, secret, at))
    clock.t = at + SETTLE + GRACE
    expect(await a.closing.forgetClosed()).toHaveLength(1)
    expect(ends).toMatchObject([{ code: 'CLIENT_REVOKED', final: true }])
  })

  it('refuses a proof of another client, leaving both clients as they are', async () => {
    const { store, clock } = await setUp()
    const a = node(store, clock)
    const alice1 = await a.clients.register('alice')
    const alice2 = await a.clients.register('alice')
    const body = proof(alice1.clientId, alice1.secret, clock.t)
    await expect(a.closing.close(alice2.clientId, body)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'invalid' },
    })
    expect((await store.getClient(alice2.clientId))?.closingAt).toBeNull()
    expect((await store.getClient(alice1.clientId))?.closingAt).toBeNull()
  })
})
