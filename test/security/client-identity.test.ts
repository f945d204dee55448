import type { ErrorFrame, WelcomeFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { greet, publishMany, range, subscribeUntilCaughtUp } from '../support/wire-session.js'
import { connectRaw } from '../support/ws-test-client.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// G7/G8: a client id is attached only by its own user, with its current secret. A secret that
// leaked is revoked by rotating it (POST /v1/clients/:id/secret); the old one then fails.

/** Says hello and resolves with the refusal (error frame and close) or the welcome. */
async function hello(wsUrl: string, frame: Record<string, unknown>) {
  const client = await connectRaw(wsUrl)
  client.send({ t: 'hello', ...frame })
  const first = await client.next<ErrorFrame | WelcomeFrame>()
  if (first.t === 'welcome') return { client, welcome: first }
  return { client, error: first, close: await client.closed }
}

describe('client identity under attack', () => {
  let s: SecurityServer
  beforeAll(async () => {
    s = await startSecurityServer()
  })
  afterAll(() => s?.close())

  it('refuses to attach another user’s client id, even with its secret, with FORBIDDEN', async () => {
    const alice = await greet(s.wsUrl, { token: 'alice' })
    const { clientId, secret } = alice.welcome
    await alice.client.close()
    const stolen = await hello(s.wsUrl, { token: 'mallory', clientId, secret })
    expect(stolen.error).toMatchObject({ t: 'error', code: 'FORBIDDEN' })
    expect(stolen.close?.code).toBe(1008)
    expect(JSON.stringify(stolen.error)).not.toContain('alice')
  })

  it('refuses a wrong or missing secret with FORBIDDEN and keeps the right one working', async () => {
    const alice = await greet(s.wsUrl, { token: 'alice' })
    const { clientId, secret } = alice.welcome
    await alice.client.close()
    for (const wrong of ['', 'x', `${secret}x`, (secret as string).slice(1)]) {
      const attempt = await hello(s.wsUrl, { token: 'alice', clientId, secret: wrong })
      expect(attempt.error?.code).toBe('FORBIDDEN')
    }
    const noSecret = await hello(s.wsUrl, { token: 'alice', clientId })
    expect(noSecret.error?.code).toBe('FORBIDDEN')
    const right = await hello(s.wsUrl, { token: 'alice', clientId, secret })
    expect(right.welcome?.clientId).toBe(clientId)
    await right.client.close()
  })

  it('refuses a stolen secret replayed after rotation, and keeps the client’s cursors', async () => {
    const registered = await s.as('alice', '/v1/clients', { method: 'POST' })
    const { clientId, secret } = (await registered.json()) as { clientId: string; secret: string }
    const stream = 'room:rotation'
    const { client } = await greet(s.wsUrl, { token: 'alice', clientId, secret })
    await publishMany(client, { stream, epoch: 0, seqs: range(0, 3), data: (n) => ({ n }) })
    client.send({ t: 'ack', stream, offset: 3 })
    await client.close()

    const rotated = await s.as('alice', `/v1/clients/${clientId}/secret`, { method: 'POST' })
    expect(rotated.status).toBe(200)
    expect(rotated.headers.get('cache-control')).toBe('no-store')
    const fresh = (await rotated.json()) as { clientId: string; secret: string }
    expect(fresh.clientId).toBe(clientId)
    expect(fresh.secret).not.toBe(secret)

    const replay = await hello(s.wsUrl, { token: 'alice', clientId, secret })
    expect(replay.error?.code).toBe('FORBIDDEN')
    expect(replay.close?.code).toBe(1008)

    const owner = await greet(s.wsUrl, { token: 'alice', clientId, secret: fresh.secret })
    expect(owner.welcome.clientId).toBe(clientId)
    expect(owner.welcome.secret).toBeUndefined()
    // Delivery state belongs to the client, not to its secret: it resumes from its cursor.
    const { msgs, caughtUp } = await subscribeUntilCaughtUp(owner.client, stream, undefined)
    expect(msgs).toEqual([])
    expect(caughtUp).toMatchObject({ head: 3, recovered: true })
    await owner.client.close()
  })

  it('rotates only the user’s own clients: FORBIDDEN for another’s, CLIENT_UNKNOWN for none', async () => {
    const registered = await s.as('alice', '/v1/clients', { method: 'POST' })
    const { clientId, secret } = (await registered.json()) as { clientId: string; secret: string }

    const hijack = await errorOf(
      await s.as('mallory', `/v1/clients/${clientId}/secret`, { method: 'POST' }),
    )
    expect(hijack).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    expect(hijack.body).not.toContain(secret)
    expect(
      await errorOf(await s.as('alice', '/v1/clients/c_nobody/secret', { method: 'POST' })),
    ).toMatchObject({ status: 404, code: 'CLIENT_UNKNOWN' })
    expect(
      await errorOf(await s.as(undefined, `/v1/clients/${clientId}/secret`, { method: 'POST' })),
    ).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' })
    expect(
      await errorOf(await s.as('alice', '/v1/clients/%E0%A4%A/secret', { method: 'POST' })),
    ).toMatchObject({ status: 400, code: 'BAD_REQUEST' })

    // The failed attempts changed nothing: the original secret still works.
    const still = await hello(s.wsUrl, { token: 'alice', clientId, secret })
    expect(still.welcome?.clientId).toBe(clientId)
    await still.client.close()
  })

  it('refuses to forget another user’s client, which keeps working', async () => {
    const alice = await greet(s.wsUrl, { token: 'alice' })
    const { clientId, secret } = alice.welcome
    await alice.client.close()
    expect(
      await errorOf(await s.as('mallory', `/v1/clients/${clientId}`, { method: 'DELETE' })),
    ).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const again = await hello(s.wsUrl, { token: 'alice', clientId, secret })
    expect(again.welcome?.clientId).toBe(clientId)
    await again.client.close()
  })
})
