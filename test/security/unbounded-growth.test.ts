import type { CaughtUpFrame, MsgFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { greet, range } from '../support/wire-session.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// F12: state that anyone could make the server keep forever. A read-only subscribe created the
// stream (2,000 sub/unsub left 1,999 rows); every distinct HTTP Producer-Id kept a row. Now a
// subscribe never creates — a follower of a missing stream waits at offset 0 — and Producer-Id is
// bounded by `--max-producer-id-bytes` (INVALID_PRODUCER). (The expiry of producer state,
// `--producer-ttl-ms`, is tested end to end in producer-expiry.test.ts.)

const MAX_PRODUCER_ID_BYTES = 64

describe('state a client can make the server keep (F12)', () => {
  let s: SecurityServer
  beforeAll(async () => {
    s = await startSecurityServer({ maxProducerIdBytes: MAX_PRODUCER_ID_BYTES })
  })
  afterAll(() => s?.close())

  it('creates no stream for subscribe and unsubscribe, however many names', async () => {
    const { client } = await greet(s.wsUrl, { token: 'scanner' })
    const names = range(0, 300).map((i) => `room:probe-${i}`)
    for (const stream of names) {
      client.send({ t: 'sub', stream, from: 'earliest' })
      client.send({ t: 'unsub', stream })
    }
    client.send({ t: 'ping' })
    await client.next('pong', 30_000)
    expect(client.frames.filter((f) => f.t === 'error')).toEqual([])
    await client.close()
    for (let i = 0; i < names.length; i += 50) {
      const heads = await Promise.all(
        names.slice(i, i + 50).map((stream) => s.as('scanner', `/v1/stream/${stream}`)),
      )
      expect(new Set(heads.map((head) => head.status))).toEqual(new Set([404]))
    }
  })

  it('lets a follower of a missing stream wait at offset 0 and get its first message', async () => {
    const stream = 'room:not-yet'
    const { client } = await greet(s.wsUrl, { token: 'early' })
    client.send({ t: 'sub', stream, from: 'earliest' })
    expect(await client.next<CaughtUpFrame>('caughtUp')).toMatchObject({
      stream,
      epoch: '',
      head: 0,
    })
    expect((await s.as('early', `/v1/stream/${stream}`, { method: 'HEAD' })).status).toBe(404)
    const writer = await greet(s.wsUrl, { token: 'writer' })
    writer.client.send({ t: 'pub', stream, epoch: 0, seq: 0, data: 'first' })
    await writer.client.next('puback')
    expect(await client.next<MsgFrame>('msg')).toMatchObject({ stream, offset: 1, data: 'first' })
    await writer.client.close()
    await client.close()
  })

  it('refuses a Producer-Id longer than the limit with 400 INVALID_PRODUCER', async () => {
    const stream = 'room:producers'
    const json = { 'content-type': 'application/json' }
    expect(
      (await s.as('owner', `/v1/stream/${stream}`, { method: 'PUT', headers: json })).status,
    ).toBe(201)
    const append = (producerId: string) =>
      s.as('owner', `/v1/stream/${stream}`, {
        method: 'POST',
        headers: { 'producer-id': producerId, 'producer-epoch': '0', 'producer-seq': '0' },
        body: '{"n":1}',
      })
    const tooLong = await append('p'.repeat(MAX_PRODUCER_ID_BYTES + 1))
    expect(await errorOf(tooLong)).toMatchObject({ status: 400, code: 'INVALID_PRODUCER' })
    expect((await append('p'.repeat(MAX_PRODUCER_ID_BYTES))).status).toBe(200)
    const history = await s.as('owner', `/v1/history/${stream}`)
    expect(((await history.json()) as { messages: unknown[] }).messages).toHaveLength(1)
  })
})
