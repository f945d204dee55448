import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'
import { greet } from '../support/wire-session.js'

// Seqline-specific behaviour of the Durable Streams door beyond the conformance suite: limits,
// the expiry job, and what the WebSocket door sees of deleted streams.

let s: InProcessServer
let n = 0
const auth = { Authorization: 'Bearer alice' }
const text = { ...auth, 'Content-Type': 'text/plain' }
const url = (name: string, query = ''): string => `${s.url}/v1/stream/${name}${query}`

beforeAll(async () => {
  s = await startInProcessServer()
})
afterAll(() => s?.close())

describe('request limits', () => {
  it('answers a body over maxPayloadBytes with 413 and keeps the connection usable', async () => {
    const name = `log:limit-${++n}`
    await fetch(url(name), { method: 'PUT', headers: text })
    const big = await fetch(url(name), { method: 'POST', headers: text, body: 'x'.repeat(70_000) })
    expect(big.status).toBe(413)
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
    expect((await fetch(url(name), { method: 'POST', headers: text, body: 'ok' })).status).toBe(204)
    expect(await (await fetch(url(name), { headers: auth })).text()).toBe('ok')
  })

  it('refuses an invalid stream name and an unknown method', async () => {
    expect((await fetch(`${s.url}/v1/stream/-bad`, { headers: auth })).status).toBe(400)
    expect((await fetch(url('log:x'), { method: 'PATCH', headers: auth })).status).toBe(405)
  })
})

describe('expiry', () => {
  it('deletes a stream past its Stream-Expires-At in the periodic job, without any request', async () => {
    const name = `log:expiring-${++n}`
    const expiresAt = new Date(Date.now() + 300).toISOString()
    await fetch(url(name), {
      method: 'PUT',
      headers: { ...text, 'Stream-Expires-At': expiresAt },
      body: 'x',
    })
    // The job runs every second; no HTTP request touches the stream meanwhile.
    await vi.waitFor(
      async () => expect((await s.server.metrics.streamsExpired.get()).values[0]?.value).toBe(1),
      { timeout: 3_000, interval: 100 },
    )
  })
})

describe('deleted streams through the WebSocket door', () => {
  it('refuses a subscription to a soft-deleted stream with GONE', async () => {
    const source = `room:source-${++n}`
    await fetch(url(source), {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: '1',
    })
    await fetch(url(`room:fork-${n}`), {
      method: 'PUT',
      headers: { ...auth, 'Stream-Forked-From': `/v1/stream/${source}` },
    })
    expect((await fetch(url(source), { method: 'DELETE', headers: auth })).status).toBe(204)
    expect((await fetch(url(source), { headers: auth })).status).toBe(410)

    const { client } = await greet(s.wsUrl, { token: 'bob' })
    client.send({ t: 'sub', stream: source, from: 'earliest' })
    expect(await client.next('error')).toMatchObject({ code: 'GONE' })
    client.send({ t: 'pub', stream: source, epoch: 0, seq: 0, data: 2 })
    expect(await client.next('nack')).toMatchObject({ code: 'GONE' })
    client.destroy()
  })
})
