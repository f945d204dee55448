import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'
import {
  type LifecycleServer,
  follow,
  metricValue,
  pollUntil,
  scrapeMetrics,
  startLifecycleServer,
  streamState,
} from './lifecycle-support.js'

// Until-acked retention by stream pattern (the seed's "delete it once the client confirmed it"):
// a message is trimmed once every client following its stream acked it — each tab of a user
// counts — and the age cap bounds what a client that vanished can hold. The retention job runs
// every 100 ms; its gauges say when it has seen the acks.

const AGE_CAP_MS = 3_000

describe('until-acked retention', () => {
  let s: LifecycleServer

  beforeAll(async () => {
    s = await startLifecycleServer({
      retention: {
        rules: [
          { streams: 'room:*', untilAcked: true },
          { streams: 'cap:*', untilAcked: true, maxAgeMs: AGE_CAP_MS },
        ],
        intervalMs: 100,
      },
    })
  })
  afterAll(() => s?.close())

  /** The retention gauges of `policy`, as the last run left them (one scrape). */
  async function held(policy: string) {
    const scrape = await scrapeMetrics(s.url)
    return {
      streams: scrape('seqline_retention_held_streams', { policy }),
      messages: scrape('seqline_retention_held_messages', { policy }),
      maxBehind: scrape('seqline_retention_max_behind_messages', { policy }),
    }
  }

  it('trims a message only once all three clients of two users acked it', async () => {
    const stream = 'room:acked'
    for (let i = 1; i <= 5; i++) await s.server.publish(stream, { i })
    const alice1 = await follow(s.wsUrl, 'alice', stream)
    const alice2 = await follow(s.wsUrl, 'alice', stream)
    const bob = await follow(s.wsUrl, 'bob', stream)
    expect([alice1.offsets, alice2.offsets, bob.offsets]).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
    ])

    // All three follow with nothing acked: everything is held, nothing trimmed.
    await pollUntil(
      () => held('room:*'),
      (h) => h.messages === 5,
      'held by three followers',
    )
    expect((await streamState(s.url, stream)).tail).toBe(1)

    // Bob and one tab of Alice acked everything, her other tab only message 1.
    alice1.ack(5)
    bob.ack(5)
    alice2.ack(1)
    expect(
      await pollUntil(
        () => held('room:*'),
        (h) => h.maxBehind === 4,
        'the acks seen by retention',
      ),
    ).toEqual({ streams: 1, messages: 4, maxBehind: 4 })
    const state = await streamState(s.url, stream)
    expect(state).toMatchObject({ head: 5, tail: 2 })
    expect(state.holders).toEqual([
      expect.objectContaining({ clientId: alice2.welcome.clientId, userId: 'alice', offset: 1 }),
    ])
    expect(
      await metricValue(s.url, 'seqline_retention_trimmed_messages_total', { policy: 'room:*' }),
    ).toBe(1)

    alice2.ack(4)
    await pollUntil(
      () => held('room:*'),
      (h) => h.maxBehind === 1,
      'the second ack seen',
    )
    expect((await streamState(s.url, stream)).tail).toBe(5)

    alice2.ack(5)
    await pollUntil(
      () => held('room:*'),
      (h) => h.streams === 0,
      'nothing held any more',
    )
    expect(await streamState(s.url, stream)).toMatchObject({ head: 5, tail: 6, holders: [] })
    await Promise.all([alice1.client.close(), alice2.client.close(), bob.client.close()])
  })

  it('lets a client that vanished hold history only until the age cap', async () => {
    const stream = 'cap:vanished'
    const publishedAt = Date.now()
    for (let i = 1; i <= 3; i++) await s.server.publish(stream, { i })
    const stays = await follow(s.wsUrl, 'alice', stream)
    const vanishes = await follow(s.wsUrl, 'bob', stream)
    stays.ack(3)
    await vanishes.client.close()

    const holding = await pollUntil(
      () => held('cap:*'),
      (h) => h.messages === 3 && h.maxBehind === 3,
      'the vanished client holding the stream',
    )
    expect(holding.streams).toBe(1)
    const early = await streamState(s.url, stream)
    if (Date.now() - publishedAt < AGE_CAP_MS - 500) {
      // Still young (only checked when the machine was quick enough to be sure): all retained.
      expect(early.tail).toBe(1)
    }
    expect(early.holders.map((h) => h.clientId)).toEqual([vanishes.welcome.clientId])

    await pollUntil(
      () => streamState(s.url, stream),
      (st) => st.tail === 4,
      'trimmed by age',
    )
    expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(AGE_CAP_MS - 100)

    // It comes back and resumes from its cursor: told that history is gone (G3), never silent.
    const back = await greet(s.wsUrl, {
      token: 'bob',
      clientId: vanishes.welcome.clientId,
      secret: vanishes.welcome.secret,
    })
    const { resets } = await subscribeUntilCaughtUp(back.client, stream, undefined)
    expect(resets).toMatchObject([{ reason: 'truncated', head: 3, tail: 4 }])
    await Promise.all([back.client.close(), stays.client.close()])
  })
})
