import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type LifecycleServer,
  type StreamFollower,
  SUPPORT_KEY,
  follow,
  pollUntil,
  startLifecycleServer,
  streamState,
  supportGet,
} from './lifecycle-support.js'

// Delivery state for support ("user X says they never got message Y"): per stream, each client's
// acked position and lag, and who holds an until-acked tail back; per client, its streams with
// what it has not acked — for the backend (API key) and for a user's own client (user token).

const WEEK_MS = 7 * 24 * 60 * 60 * 1000

describe('delivery state', () => {
  let s: LifecycleServer
  let alice1: StreamFollower
  let alice2: StreamFollower
  let bob: StreamFollower
  const stream = 'room:support'

  beforeAll(async () => {
    s = await startLifecycleServer({
      retention: {
        rules: [
          { streams: 'room:*', untilAcked: true },
          { streams: 'trim:*', maxCount: 3 },
        ],
        intervalMs: 100,
      },
    })
    for (let i = 1; i <= 10; i++) await s.server.publish(stream, { i })
    alice1 = await follow(s.wsUrl, 'alice', stream)
    alice2 = await follow(s.wsUrl, 'alice', stream)
    bob = await follow(s.wsUrl, 'bob', stream)
    alice1.ack(10)
    alice2.ack(7)
    await pollUntil(
      () => streamState(s.url, stream),
      (st) =>
        st.followers
          .map((f) => f.offset)
          .sort((a, b) => a - b)
          .join() === '0,7,10',
      'the acks recorded',
    )
  })
  afterAll(async () => {
    await Promise.all([alice1, alice2, bob].map((f) => f?.client.close()))
    await s?.close()
  })

  const idOf = (f: StreamFollower): string => f.welcome.clientId

  it("answers each following client's position, lag, and who holds the tail back", async () => {
    const state = await supportGet(s.url, `/v1/api/delivery/streams/${stream}`)
    const followers = [
      { client: alice1, userId: 'alice', offset: 10, behind: 0 },
      { client: alice2, userId: 'alice', offset: 7, behind: 3 },
      { client: bob, userId: 'bob', offset: 0, behind: 10 },
    ]
      .map(({ client, ...rest }) => ({
        clientId: idOf(client),
        ...rest,
        following: true,
        truncated: false,
      }))
      .sort((a, b) => (a.clientId < b.clientId ? -1 : 1))
    expect(state).toEqual({
      stream,
      epoch: expect.any(String),
      head: 10,
      tail: 1,
      retention: { policy: { untilAcked: true, maxAgeMs: WEEK_MS }, source: 'room:*' },
      followers: followers.map((f) => ({
        ...f,
        epoch: state['epoch'],
        updatedAt: expect.any(Number),
      })),
      holders: [
        expect.objectContaining({ clientId: idOf(bob), userId: 'bob', offset: 0, behind: 10 }),
        expect.objectContaining({ clientId: idOf(alice2), userId: 'alice', offset: 7, behind: 3 }),
      ],
      next: null,
    })
    expect(state['holders']).toEqual([
      expect.objectContaining({ lastSeenAt: expect.any(Number) }),
      expect.objectContaining({ lastSeenAt: expect.any(Number) }),
    ])
  })

  it("lists one user's clients only, and pages through the clients", async () => {
    const alices = await streamState(s.url, stream, '?user=alice')
    expect(alices.followers.map((f) => f.clientId).sort()).toEqual(
      [idOf(alice1), idOf(alice2)].sort(),
    )
    const seen: string[] = []
    let after: string | null = null
    do {
      const query: string = `?limit=1${after === null ? '' : `&after=${after}`}`
      const page = await streamState(s.url, stream, query)
      seen.push(...page.followers.map((f) => f.clientId))
      after = page.next
    } while (after !== null && seen.length < 10)
    expect(seen).toEqual([idOf(alice1), idOf(alice2), idOf(bob)].sort())
    expect((await streamState(s.url, stream, '?holders=1')).holders).toHaveLength(1)
  })

  it("answers a client's streams with what it has not acked", async () => {
    expect(await supportGet(s.url, `/v1/api/delivery/clients/${idOf(alice2)}`)).toEqual({
      clientId: idOf(alice2),
      userId: 'alice',
      createdAt: expect.any(Number),
      lastSeenAt: expect.any(Number),
      closing: false,
      streams: [
        {
          stream,
          epoch: expect.any(String),
          offset: 7,
          updatedAt: expect.any(Number),
          head: 10,
          tail: 1,
          following: true,
          unacked: 3,
          truncated: false,
        },
      ],
      next: null,
    })
  })

  it('tells which clients acked less than the tail: trimmed messages they never acked', async () => {
    await s.server.publish('trim:a', { i: 1 })
    const behind = await follow(s.wsUrl, 'carol', 'trim:a')
    for (let i = 2; i <= 10; i++) await s.server.publish('trim:a', { i })
    behind.ack(2)
    const state = await pollUntil(
      () => streamState(s.url, 'trim:a'),
      (st) => st.tail === 8 && st.followers[0]?.offset === 2,
      'trimmed to the last 3',
    )
    expect(state.followers).toEqual([expect.objectContaining({ behind: 8, truncated: true })])
    expect(state.holders).toEqual([])
    const client = await supportGet<{ streams: unknown[] }>(
      s.url,
      `/v1/api/delivery/clients/${behind.welcome.clientId}`,
    )
    expect(client.streams).toEqual([
      expect.objectContaining({ stream: 'trim:a', unacked: 8, truncated: true }),
    ])
    await behind.client.close()
  })

  it("lets a user read their own client's streams, and nobody else's", async () => {
    const get = (clientId: string, token?: string) =>
      fetch(`${s.url}/v1/clients/${clientId}/streams`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      })
    const own = await get(idOf(bob), 'bob')
    expect(own.status).toBe(200)
    expect(await own.json()).toMatchObject({
      clientId: idOf(bob),
      userId: 'bob',
      streams: [{ stream, offset: 0, head: 10, unacked: 10 }],
    })
    const other = await get(idOf(bob), 'alice')
    expect(other.status).toBe(403)
    expect(await other.json()).toMatchObject({ error: { code: 'FORBIDDEN' } })
    expect((await get(idOf(bob))).status).toBe(401)
    const unknown = await get('c_AAAAAAAAAAAAAAAA', 'bob')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: { code: 'CLIENT_UNKNOWN' } })
  })

  it('needs an API key for the support routes and checks every parameter', async () => {
    const status = async (path: string, key?: string) =>
      (
        await fetch(s.url + path, {
          headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
        })
      ).status
    expect(await status(`/v1/api/delivery/streams/${stream}`)).toBe(401)
    expect(await status(`/v1/api/delivery/streams/${stream}`, 'alice')).toBe(401)
    expect(await status(`/v1/api/delivery/clients/${idOf(bob)}`, 'bob')).toBe(401)
    expect(await status(`/v1/api/delivery/streams/${stream}`, SUPPORT_KEY)).toBe(200)
    for (const [path, code] of [
      ['/v1/api/delivery/streams/room:nowhere', 'STREAM_NOT_FOUND'],
      ['/v1/api/delivery/clients/c_AAAAAAAAAAAAAAAA', 'CLIENT_UNKNOWN'],
      [`/v1/api/delivery/streams/${stream}?limit=0`, 'BAD_REQUEST'],
      [`/v1/api/delivery/streams/${stream}?limit=x`, 'BAD_REQUEST'],
      [`/v1/api/delivery/streams/${stream}?user=${'u'.repeat(300)}`, 'BAD_REQUEST'],
      [`/v1/api/delivery/streams/${stream}?after=`, 'BAD_REQUEST'],
      ['/v1/api/delivery/streams/bad%20name', 'INVALID_STREAM_NAME'],
    ] as const) {
      const res = await fetch(s.url + path, { headers: { authorization: `Bearer ${SUPPORT_KEY}` } })
      expect({ path, body: await res.json() }).toMatchObject({ path, body: { error: { code } } })
    }
  })
})
