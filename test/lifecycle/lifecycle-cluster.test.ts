import type { ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil, watchFrames } from '../support/frame-watch.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestDatabase,
  createTestDatabase,
} from '../support/services.js'
import { greet, publishMany, range } from '../support/wire-session.js'
import {
  SUPPORT_KEY,
  type StreamFollower,
  closeProof,
  follow,
  metricValue,
  pollUntil,
  sendClosing,
  streamState,
} from './lifecycle-support.js'

// Two `seqline serve` processes on one PostgreSQL database (LISTEN/NOTIFY bus). Only node A runs
// retention (B's period is an hour): a reader on B is protected by its acks in the store, not by
// anything A could know of B's connections. And a page that reloads onto another node within the
// grace keeps its client.

const MESSAGES = 300

describe.skipIf(POSTGRES_URL === undefined)(`the lifecycle on two nodes${NEEDS_POSTGRES}`, () => {
  let db: TestDatabase
  let a: ServerProcess
  let b: ServerProcess

  beforeAll(async () => {
    db = await createTestDatabase()
    const common = [
      ...['--store', db.url, '--bus', 'postgres', '--bus-channel', db.name, '--auth', 'dev'],
      ...['--publish-rate', '100000', '--publish-burst', '100000', '--heal-interval-ms', '300'],
      ...['--retention-rules', 'feed:*=until-acked', '--forget-grace-ms', '2000'],
    ]
    const env = { SEQLINE_API_KEYS: SUPPORT_KEY }
    // One after the other: the first migrates, the second finds the schema.
    a = await startServerProcess({ env, args: [...common, '--retention-interval-ms', '100'] })
    b = await startServerProcess({ env, args: [...common, '--retention-interval-ms', '3600000'] })
  })
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await db?.drop()
  })

  /** Acks every message of `stream` the follower receives, as it receives it. */
  function ackAsItGoes(follower: StreamFollower, stream: string): void {
    watchFrames(follower.client, (frame) => {
      if (frame.t === 'msg' && frame.stream === stream) follower.ack(frame.offset)
    })
  }

  it('never lets retention on node A overtake a reader on node B that acks as it goes', async () => {
    const stream = 'feed:cluster'
    const producer = await greet(a.wsUrl, { token: 'producer' })
    const created = await publishMany(producer.client, {
      stream,
      epoch: 0,
      seqs: [0],
      data: () => ({ n: 1 }),
    })
    expect(created).toMatchObject([{ t: 'puback', offset: 1 }])
    const fast = await follow(a.wsUrl, 'alice', stream)
    const reader = await follow(b.wsUrl, 'bob', stream)
    ackAsItGoes(fast, stream)
    ackAsItGoes(reader, stream)
    // Both acks of offset 0 are in the store (each node writes its acks in batches).
    await pollUntil(
      () => streamState(a.url, stream),
      (st) => st.followers.length === 2,
      'both followers known to node A',
    )

    const replies = await publishMany(producer.client, {
      stream,
      epoch: 0,
      seqs: range(1, MESSAGES),
      data: (seq) => ({ n: seq + 1 }),
      window: 10,
    })
    expect(replies.every((r) => r.t === 'puback')).toBe(true)
    const head = MESSAGES + 1
    await waitUntil(reader.client, () => reader.offsets.length >= head, {
      what: `${head} messages on node B`,
      timeoutMs: 30_000,
    })
    expect(reader.offsets).toEqual(range(1, head))
    const resets = reader.client.frames.filter(
      (f: ServerFrame) => f.t === 'reset' || f.t === 'error',
    )
    expect(resets).toEqual([])

    // Retention did run on node A: once both acked everything, it trimmed everything.
    expect(
      await pollUntil(
        () => streamState(a.url, stream),
        (st) => st.tail === head + 1,
        'everything trimmed',
      ),
    ).toMatchObject({ head, holders: [] })
    expect(
      await metricValue(a.url, 'seqline_retention_trimmed_messages_total', { policy: 'feed:*' }),
    ).toBe(head)
    await Promise.all([producer.client.close(), fast.client.close(), reader.client.close()])
  }, 60_000)

  it('keeps a client whose page reloads onto the other node within the grace', async () => {
    const cursorsOf = (url: string, clientId: string) =>
      fetch(`${url}/v1/clients/${clientId}/cursors`, {
        headers: { authorization: 'Bearer carol' },
      })
    const reloading = await greet(a.wsUrl, { token: 'carol' })
    const closed = await greet(a.wsUrl, { token: 'carol' })
    const tab = { clientId: reloading.welcome.clientId, secret: reloading.welcome.secret ?? '' }
    const other = { clientId: closed.welcome.clientId, secret: closed.welcome.secret ?? '' }

    await reloading.client.close()
    const proof = closeProof(tab.clientId, tab.secret)
    expect((await sendClosing(a.url, tab.clientId, proof)).status).toBe(204)
    const reloaded = await greet(b.wsUrl, { token: 'carol', ...tab })
    expect(reloaded.welcome.replaced).toBeUndefined()
    // Closed for good just after: once it is forgotten, the reloading tab's grace is over too.
    await closed.client.close()
    const otherProof = closeProof(other.clientId, other.secret)
    expect((await sendClosing(a.url, other.clientId, otherProof)).status).toBe(204)
    await pollUntil(
      () => cursorsOf(a.url, other.clientId),
      (r) => r.status === 404,
      'the closed tab forgotten',
    )

    expect((await cursorsOf(a.url, tab.clientId)).status).toBe(200)
    const count = async (node: ServerProcess) =>
      (await metricValue(node.url, 'seqline_clients_forgotten_total', { reason: 'closed' })) ?? 0
    // Forgotten once, by one node or the other.
    expect((await count(a)) + (await count(b))).toBe(1)
    await reloaded.client.close()
  })
})
