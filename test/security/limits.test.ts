import type { ErrorFrame, NackFrame, PubackFrame, WelcomeFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { greet, range, subscribeUntilCaughtUp } from '../support/wire-session.js'
import { connectRaw } from '../support/ws-test-client.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// DESIGN §8: oversize and flood attempts get a clean, documented refusal — never a crash, never
// unbounded work — and the connection (or the server) goes on for everyone else.

const LIMITS = {
  maxPayloadBytes: 1_024,
  publishRatePerSec: 20,
  publishBurst: 10,
  maxStreamsPerConnection: 4,
  maxConnectionsPerClient: 1,
  maxClientsPerUser: 3,
}

describe('limits against oversize and flood attempts', () => {
  let s: SecurityServer
  beforeAll(async () => {
    s = await startSecurityServer(LIMITS)
  })
  afterAll(() => s?.close())

  it('nacks an oversize publish with PAYLOAD_TOO_LARGE and keeps the connection', async () => {
    const { client } = await greet(s.wsUrl, { token: 'big' })
    client.send({ t: 'pub', stream: 'room:big', epoch: 0, seq: 0, data: 'x'.repeat(2_000) })
    expect(await client.next<NackFrame>('nack')).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      seq: 0,
    })
    client.send({ t: 'signal', stream: 'room:big', data: 'x'.repeat(2_000) })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    client.send({ t: 'pub', stream: 'room:big', epoch: 0, seq: 0, data: 'small' })
    expect(await client.next<PubackFrame>('puback')).toMatchObject({ offset: 1 })
    await client.close()
  })

  it('closes a connection that sends a frame above the hard cap with 1009', async () => {
    const { client } = await greet(s.wsUrl, { token: 'huge' })
    client.send(`{"t":"pub","data":"${'x'.repeat(1024 * 1024 + 10)}"}`)
    expect((await client.closed).code).toBe(1009)
    // Others are unaffected.
    const other = await greet(s.wsUrl, { token: 'huge' })
    other.client.send({ t: 'ping' })
    await other.client.next('pong')
    await other.client.close()
  })

  it('refuses an HTTP body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(4_000) })
    const put = await s.as('big', '/v1/stream/room:http-big', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
    })
    expect(put.status).toBeLessThan(300)
    const append = await errorOf(
      await s.as('big', '/v1/stream/room:http-big', { method: 'POST', body: big }),
    )
    expect(append).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    const client = (await (await s.as('big', '/v1/clients', { method: 'POST' })).json()) as {
      clientId: string
    }
    const ack = await errorOf(
      await s.as('big', `/v1/clients/${client.clientId}/acks`, { method: 'POST', body: big }),
    )
    expect(ack).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
  })

  it('rate-limits a publish flood with RATE_LIMITED and commits only the budget, gapless', async () => {
    const { client } = await greet(s.wsUrl, { token: 'flood' })
    const stream = 'room:flood'
    for (const seq of range(0, 200)) client.send({ t: 'pub', stream, epoch: 0, seq, data: seq })
    const replies: (PubackFrame | NackFrame)[] = []
    while (replies.length < 200) {
      replies.push(
        await client.next<PubackFrame | NackFrame>((f) => f.t === 'puback' || f.t === 'nack'),
      )
    }
    const acked = replies.filter((r): r is PubackFrame => r.t === 'puback')
    const codes = new Set(replies.filter((r): r is NackFrame => r.t === 'nack').map((r) => r.code))
    expect(acked.length).toBeGreaterThanOrEqual(LIMITS.publishBurst)
    expect(acked.length).toBeLessThan(LIMITS.publishBurst + 20)
    // Refused publishes leave no hole: the producer's seqs past a refusal get PRODUCER_SEQ_GAP.
    expect([...codes].every((c) => c === 'RATE_LIMITED' || c === 'PRODUCER_SEQ_GAP')).toBe(true)
    expect(codes.has('RATE_LIMITED')).toBe(true)
    const reader = await greet(s.wsUrl, { token: 'reader' })
    const { msgs } = await subscribeUntilCaughtUp(reader.client, stream, 'earliest')
    expect(msgs.map((m) => m.offset)).toEqual(range(1, acked.length))
    await reader.client.close()
    await client.close()
  })

  it('refuses a second connection of one client with TOO_MANY_CONNECTIONS', async () => {
    const first = await greet(s.wsUrl, { token: 'conn' })
    const { clientId, secret } = first.welcome
    const second = await connectRaw(s.wsUrl)
    second.send({ t: 'hello', token: 'conn', clientId, secret, onInUse: 'reject' })
    expect(await second.next<ErrorFrame>('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' })
    expect((await second.closed).code).toBe(1008)
    // A takeover names the connection it replaces; a guessed one does not count.
    const guess = await connectRaw(s.wsUrl)
    guess.send({
      t: 'hello',
      token: 'conn',
      clientId,
      secret,
      takeover: 'k_guess',
      onInUse: 'reject',
    })
    expect(await guess.next<ErrorFrame>('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' })
    first.client.send({ t: 'ping' })
    await first.client.next('pong')
    await first.client.close()
  })

  it('refuses registering clients past the per-user limit with TOO_MANY_CLIENTS', async () => {
    for (const _ of range(0, LIMITS.maxClientsPerUser)) {
      expect((await s.as('hoarder', '/v1/clients', { method: 'POST' })).status).toBe(201)
    }
    expect(await errorOf(await s.as('hoarder', '/v1/clients', { method: 'POST' }))).toMatchObject({
      status: 429,
      code: 'TOO_MANY_CLIENTS',
    })
    const client = await connectRaw(s.wsUrl)
    client.send({ t: 'hello', token: 'hoarder' })
    const first = await client.next<ErrorFrame | WelcomeFrame>()
    expect(first).toMatchObject({ t: 'error', code: 'TOO_MANY_CLIENTS' })
  })

  it('refuses subscriptions past the per-connection limit with TOO_MANY_STREAMS', async () => {
    const { client } = await greet(s.wsUrl, { token: 'wide' })
    for (const i of range(0, LIMITS.maxStreamsPerConnection)) {
      await subscribeUntilCaughtUp(client, `room:wide-${i}`, 'latest')
    }
    client.send({ t: 'sub', stream: 'room:wide-x', from: 'latest' })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({
      code: 'TOO_MANY_STREAMS',
      stream: 'room:wide-x',
    })
    await client.close()
  })
})
