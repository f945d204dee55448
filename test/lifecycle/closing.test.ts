import { describe, expect, it, onTestFinished } from 'vitest'
import { greet } from '../support/wire-session.js'
import {
  closeProof,
  follow,
  metricValue,
  pollUntil,
  scrapeMetrics,
  sendClosing,
  startLifecycleServer,
  streamState,
  supportGet,
} from './lifecycle-support.js'

// Forget on close (the seed's "when the user closes the tab, delete the client row and all
// messages for this client"): the tab's beacon proves it holds the client's secret, and the client
// is forgotten once unseen for the grace — unless the page was only reloading.

const GRACE_MS = 1_500

async function server() {
  const s = await startLifecycleServer({
    clients: { forgetGraceMs: GRACE_MS, countIntervalMs: 100 },
    retention: { rules: [{ streams: 'room:*', untilAcked: true }], intervalMs: 100 },
  })
  onTestFinished(() => s.close())
  return s
}

/** `GET /v1/clients/:id/cursors` as `user`: 200 while the client exists, 404 once forgotten. */
function cursorsOf(url: string, user: string, clientId: string): Promise<Response> {
  return fetch(`${url}/v1/clients/${clientId}/cursors`, {
    headers: { authorization: `Bearer ${user}` },
  })
}

describe('forget on close', () => {
  it('forgets a closed client after the grace: its cursors go and the tail it held moves', async () => {
    const s = await server()
    const stream = 'room:closing'
    for (let i = 1; i <= 3; i++) await s.server.publish(stream, { i })
    const closing = await follow(s.wsUrl, 'alice', stream)
    const reader = await follow(s.wsUrl, 'bob', stream)
    reader.ack(3)
    await pollUntil(
      () => streamState(s.url, stream),
      (st) => st.holders.length === 1 && st.followers.length === 2,
      'the closing client holding the stream',
    )

    const { clientId, secret } = closing.welcome as { clientId: string; secret: string }
    await closing.client.close()
    const res = await sendClosing(s.url, clientId, closeProof(clientId, secret))
    const sentAt = Date.now()
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(
      await pollUntil(
        () => scrapeMetrics(s.url),
        (scrape) => scrape('seqline_clients', { state: 'closing' }) === 1,
        'the client counted as closing',
      ).then((scrape) => scrape('seqline_clients', { state: 'connected' })),
    ).toBe(1)

    const gone = await pollUntil(
      () => cursorsOf(s.url, 'alice', clientId),
      (r) => r.status !== 200,
      'the client forgotten',
    )
    expect(await gone.json()).toMatchObject({ error: { code: 'CLIENT_UNKNOWN' } })
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(GRACE_MS - 100)
    // Its cursor went with it, so it holds nothing back: the tail moves past what the reader acked.
    expect(
      await pollUntil(
        () => streamState(s.url, stream),
        (st) => st.tail === 4,
        'the tail moved',
      ),
    ).toMatchObject({ head: 3, holders: [], followers: [{ userId: 'bob', offset: 3 }] })
    const scrape = await scrapeMetrics(s.url)
    expect(scrape('seqline_clients_forgotten_total', { reason: 'closed' })).toBe(1)
    expect(scrape('seqline_close_proofs_total', { result: 'accepted' })).toBe(1)

    // The tab's identity is gone: a hello naming it gets a new client.
    const again = await greet(s.wsUrl, { token: 'alice', clientId, secret })
    expect(again.welcome.replaced).toBe('unknown')
    await Promise.all([again.client.close(), reader.client.close()])
  })

  it('keeps a client whose page reloads within the grace, with its positions', async () => {
    const s = await server()
    const stream = 'room:reload'
    await s.server.publish(stream, { i: 1 })
    const reloading = await follow(s.wsUrl, 'alice', stream)
    reloading.ack(1)
    const closed = await greet(s.wsUrl, { token: 'alice' })
    const tab = reloading.welcome as { clientId: string; secret: string }
    const other = closed.welcome as { clientId: string; secret: string }

    await reloading.client.close()
    expect(
      (await sendClosing(s.url, tab.clientId, closeProof(tab.clientId, tab.secret))).status,
    ).toBe(204)
    const reloaded = await greet(s.wsUrl, {
      token: 'alice',
      clientId: tab.clientId,
      secret: tab.secret,
    })
    expect(reloaded.welcome).toMatchObject({ clientId: tab.clientId })
    expect(reloaded.welcome.replaced).toBeUndefined()
    // A tab closed for good at the same time, after the reloading one: once it is forgotten, the
    // reloading tab's grace is over too.
    await closed.client.close()
    expect(
      (await sendClosing(s.url, other.clientId, closeProof(other.clientId, other.secret))).status,
    ).toBe(204)
    await pollUntil(
      () => cursorsOf(s.url, 'alice', other.clientId),
      (r) => r.status === 404,
      'the closed tab forgotten',
    )

    const res = await cursorsOf(s.url, 'alice', tab.clientId)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ cursors: [{ stream, offset: 1 }] })
    expect(await supportGet(s.url, `/v1/api/delivery/clients/${tab.clientId}`)).toMatchObject({
      closing: false,
      streams: [{ stream, offset: 1, unacked: 0 }],
    })
    expect(await metricValue(s.url, 'seqline_clients_forgotten_total', { reason: 'closed' })).toBe(
      1,
    )
    await reloaded.client.close()
  })

  it('refuses a stale, forged or misdirected proof, and answers for a missing client the same', async () => {
    const s = await server()
    const a = await greet(s.wsUrl, { token: 'alice' })
    const b = await greet(s.wsUrl, { token: 'bob' })
    const alice = a.welcome as { clientId: string; secret: string }
    const bob = b.welcome as { clientId: string; secret: string }
    const refusal = async (clientId: string, body: string) => {
      const res = await sendClosing(s.url, clientId, body)
      return { status: res.status, body: (await res.json()) as unknown }
    }
    const stale = {
      status: 403,
      body: { error: { code: 'FORBIDDEN', reason: 'stale', message: expect.any(String) } },
    }
    const invalid = await refusal(alice.clientId, closeProof(alice.clientId, 'not-the-secret'))
    expect(invalid).toEqual({
      status: 403,
      body: { error: { code: 'FORBIDDEN', reason: 'invalid', message: expect.any(String) } },
    })

    const now = Date.now()
    expect(
      await refusal(alice.clientId, closeProof(alice.clientId, alice.secret, now - 121_000)),
    ).toEqual(stale)
    expect(
      await refusal(alice.clientId, closeProof(alice.clientId, alice.secret, now + 31_000)),
    ).toEqual(stale)
    // Bob's valid proof, replayed against Alice's client: refused, and Bob stays.
    expect(await refusal(alice.clientId, closeProof(bob.clientId, bob.secret))).toEqual(invalid)
    // A client that does not exist gets exactly the answer of a wrong secret.
    expect(await refusal('c_AAAAAAAAAAAAAAAA', closeProof('c_AAAAAAAAAAAAAAAA', 'guess'))).toEqual(
      invalid,
    )
    expect(await refusal('c_AAAAAAAAAAAAAAAA', closeProof(alice.clientId, alice.secret))).toEqual(
      invalid,
    )
    expect(await refusal(alice.clientId, 'not json')).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_REQUEST' } },
    })
    expect(await refusal(alice.clientId, 'x'.repeat(4_096))).toMatchObject({
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
    })

    for (const { clientId } of [alice, bob]) {
      expect(await supportGet(s.url, `/v1/api/delivery/clients/${clientId}`)).toMatchObject({
        closing: false,
      })
    }
    const scrape = await scrapeMetrics(s.url)
    expect(scrape('seqline_close_proofs_total', { result: 'stale' })).toBe(2)
    expect(scrape('seqline_close_proofs_total', { result: 'invalid' })).toBe(4)
    expect(scrape('seqline_close_proofs_total', { result: 'accepted' })).toBeUndefined()
    await Promise.all([a.client.close(), b.client.close()])
  })
})
