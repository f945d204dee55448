import type { ErrorFrame, NackFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { greet, publishMany, range, subscribeUntilCaughtUp } from '../support/wire-session.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// F9: HTTP appends had no rate limit (5,587 messages/s against 200/s over WebSocket) and signals
// none at all (5,000 fanned out at once). Now every door is held to the same publish rate — one
// token per message, from the client's bucket over WebSocket and from the user's over HTTP — and
// signals have their own rate (`--signal-rate`, `--signal-burst`).

const LIMITS = {
  publishRatePerSec: 2,
  publishBurst: 10,
  signalRatePerSec: 2,
  signalBurst: 5,
}

describe('one rate for every door (F9)', () => {
  let s: SecurityServer
  beforeAll(async () => {
    s = await startSecurityServer(LIMITS)
  })
  afterAll(() => s?.close())

  const json = { 'content-type': 'application/json' }

  async function create(stream: string): Promise<void> {
    const res = await s.as('owner', `/v1/stream/${stream}`, { method: 'PUT', headers: json })
    expect(res.status).toBe(201)
  }

  async function storedCount(stream: string): Promise<number> {
    const res = await s.as('reader', `/v1/history/${stream}?limit=500`)
    return ((await res.json()) as { messages: unknown[] }).messages.length
  }

  it('refuses HTTP appends past the burst with 429 RATE_LIMITED and stores none of them', async () => {
    const stream = 'room:http-flood'
    await create(stream)
    const statuses: number[] = []
    const codes = new Set<string>()
    for (const n of range(0, 30)) {
      const res = await s.as('flooder', `/v1/stream/${stream}`, {
        method: 'POST',
        body: JSON.stringify({ n }),
      })
      statuses.push(res.status)
      if (res.status !== 204) codes.add((await errorOf(res)).code)
      else await res.body?.cancel()
    }
    const accepted = statuses.filter((status) => status === 204).length
    expect(accepted).toBeGreaterThanOrEqual(LIMITS.publishBurst)
    expect(accepted).toBeLessThan(LIMITS.publishBurst + 5)
    expect(statuses.filter((status) => status !== 204).every((status) => status === 429)).toBe(true)
    expect([...codes]).toEqual(['RATE_LIMITED'])
    expect(await storedCount(stream)).toBe(accepted)
  })

  it('charges every message of a JSON array append, beyond the burst too', async () => {
    // A faster rate, so that the burst would refill within the wait below.
    const fast = await startSecurityServer({ publishRatePerSec: 100, publishBurst: 10 })
    try {
      const stream = 'room:http-batch'
      const put = await fast.as('owner', `/v1/stream/${stream}`, { method: 'PUT', headers: json })
      expect(put.status).toBe(201)
      // A batch of 1,000 on a full bucket is admitted, and owes 990 messages: 9.9 s at 100/s.
      const batch = JSON.stringify(range(0, 1_000))
      const big = await fast.as('batcher', `/v1/stream/${stream}`, { method: 'POST', body: batch })
      expect(big.status).toBe(204)
      // Long after a burst of 10 would have refilled (0.1 s), the debt is still being paid.
      await new Promise((resolve) => setTimeout(resolve, 500))
      const next = await fast.as('batcher', `/v1/stream/${stream}`, {
        method: 'POST',
        body: JSON.stringify(range(0, 10)),
      })
      expect(await errorOf(next)).toMatchObject({ status: 429, code: 'RATE_LIMITED' })
    } finally {
      await fast.close()
    }
  })

  it('charges HTTP appends to the user, whatever client id Producer-Id names', async () => {
    const stream = 'room:two-doors'
    await create(stream)
    const { client, welcome } = await greet(s.wsUrl, { token: 'doubler' })
    // HTTP appends naming the user's own client as their producer: a producer of the user's
    // (HTTP producers never share a client's state), spending the user's budget.
    const statuses: number[] = []
    for (const seq of range(0, LIMITS.publishBurst + 5)) {
      const res = await s.as('doubler', `/v1/stream/${stream}`, {
        method: 'POST',
        headers: {
          'producer-id': welcome.clientId,
          'producer-epoch': '0',
          'producer-seq': `${seq}`,
        },
        body: JSON.stringify({ seq }),
      })
      statuses.push(res.status)
      await res.body?.cancel()
      if (res.status === 429) break
    }
    expect(statuses.at(-1)).toBe(429)
    // The same user without a producer: the same budget, spent.
    const asUser = await s.as('doubler', `/v1/stream/${stream}`, {
      method: 'POST',
      body: '{"over":"http"}',
    })
    expect(await errorOf(asUser)).toMatchObject({ status: 429, code: 'RATE_LIMITED' })
    // The client's own WebSocket budget was not touched.
    const [reply] = await publishMany(client, { stream, epoch: 0, seqs: [0], data: () => 'ws' })
    expect(reply).toMatchObject({ t: 'puback' })
    await client.close()
  })

  it('refuses signals past their burst with RATE_LIMITED and fans out only the budget', async () => {
    const stream = 'room:typing'
    const listener = await greet(s.wsUrl, { token: 'listener' })
    await subscribeUntilCaughtUp(listener.client, stream, 'latest')
    const { client } = await greet(s.wsUrl, { token: 'typist' })
    for (const n of range(0, 50)) client.send({ t: 'signal', stream, data: { n } })
    client.send({ t: 'ping' })
    await client.next('pong')
    const refusals = client.frames.filter((f): f is ErrorFrame => f.t === 'error')
    expect(refusals.length).toBeGreaterThanOrEqual(50 - LIMITS.signalBurst - 5)
    expect(new Set(refusals.map((f) => f.code))).toEqual(new Set(['RATE_LIMITED']))

    // The listener got what was admitted, and nothing more.
    listener.client.send({ t: 'ping' })
    await listener.client.next('pong')
    const admitted = 50 - refusals.length
    await expect
      .poll(() => listener.client.frames.filter((f) => f.t === 'signal').length)
      .toBe(admitted)
    expect(admitted).toBeLessThan(LIMITS.signalBurst + 5)
    // A nack-free publish still works: the signal budget is not the publish budget.
    client.send({ t: 'pub', stream, epoch: 0, seq: 0, data: 'hi' })
    expect(
      await client.next<PubackFrame | NackFrame>((f) => f.t === 'puback' || f.t === 'nack'),
    ).toMatchObject({ t: 'puback' })
    await client.close()
    await listener.client.close()
  })
})
