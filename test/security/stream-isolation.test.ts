import type { ErrorFrame, NackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchFrames } from '../support/frame-watch.js'
import { greet, publishMany, range, subscribeUntilCaughtUp } from '../support/wire-session.js'
import { connectRaw } from '../support/ws-test-client.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// G8: `user:alice` is alice's alone. Mallory tries every door — WebSocket sub, resume, pub, ack,
// signal; HTTP reads, acks, cursors, history, presence — and gets FORBIDDEN at each, without a
// byte of alice's data, and without changing alice's state.

const SECRET_TEXT = 'alice-private-note'

describe('stream isolation between users', () => {
  let s: SecurityServer
  let aliceClientId: string
  let epoch: string

  beforeAll(async () => {
    s = await startSecurityServer()
    const alice = await greet(s.wsUrl, { token: 'alice' })
    aliceClientId = alice.welcome.clientId
    const replies = await publishMany(alice.client, {
      stream: 'user:alice',
      epoch: 0,
      seqs: range(0, 3),
      data: (n) => ({ text: `${SECRET_TEXT}-${n}` }),
    })
    expect(replies.every((r) => r.t === 'puback')).toBe(true)
    epoch = (replies[0] as { epoch: string }).epoch
    alice.client.send({ t: 'ack', stream: 'user:alice', offset: 2 })
    await alice.client.close()
  })
  afterAll(() => s?.close())

  it('refuses sub, resume, pub, ack and signal on another user’s stream with FORBIDDEN', async () => {
    const mallory = await greet(s.wsUrl, {
      token: 'mallory',
      resume: [{ stream: 'user:alice', epoch, offset: 0 }],
    })
    const seen: string[] = []
    watchFrames(mallory.client, (f) => seen.push(JSON.stringify(f)), { fromStart: true })
    const resumeError = await mallory.client.next<ErrorFrame>('error')
    expect(resumeError).toMatchObject({ code: 'FORBIDDEN', stream: 'user:alice' })

    for (const from of [undefined, 'earliest', { epoch, offset: 0 }] as const) {
      mallory.client.send(
        from === undefined
          ? { t: 'sub', stream: 'user:alice' }
          : { t: 'sub', stream: 'user:alice', from },
      )
      expect(await mallory.client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
    }
    mallory.client.send({ t: 'pub', stream: 'user:alice', epoch: 0, seq: 0, data: 'spoof' })
    expect(await mallory.client.next<NackFrame>('nack')).toMatchObject({ code: 'FORBIDDEN' })
    mallory.client.send({ t: 'ack', stream: 'user:alice', offset: 3 })
    expect(await mallory.client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
    mallory.client.send({ t: 'signal', stream: 'user:alice', data: { typing: true } })
    expect(await mallory.client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
    mallory.client.send({ t: 'ping' })
    await mallory.client.next('pong')
    await mallory.client.close()

    expect(seen.join('\n')).not.toContain(SECRET_TEXT)
    expect(seen.some((f) => f.includes('"t":"msg"') || f.includes('"t":"presence"'))).toBe(false)

    // Alice's stream is untouched: three messages, her cursor at 2.
    const alice = await greet(s.wsUrl, { token: 'alice' })
    const { msgs } = await subscribeUntilCaughtUp(alice.client, 'user:alice', 'earliest')
    expect(msgs.map((m) => m.producer)).toEqual([aliceClientId, aliceClientId, aliceClientId])
    await alice.client.close()
    const cursors = (await (
      await s.as('alice', `/v1/clients/${aliceClientId}/cursors`)
    ).json()) as { cursors: { stream: string; offset: number }[] }
    expect(cursors.cursors).toEqual([expect.objectContaining({ stream: 'user:alice', offset: 2 })])
  })

  it('refuses every HTTP read of another user’s stream with 403 and no data', async () => {
    const paths = [
      '/v1/stream/user:alice',
      '/v1/stream/user:alice?offset=-1',
      '/v1/history/user:alice',
      '/v1/cursors/user:alice',
      '/v1/presence/user:alice',
    ]
    for (const path of paths) {
      const answer = await errorOf(await s.as('mallory', path))
      expect(answer, path).toMatchObject({ status: 403, code: 'FORBIDDEN' })
      expect(answer.body, path).not.toContain(SECRET_TEXT)
    }
    const append = await s.as('mallory', '/v1/stream/user:alice', {
      method: 'POST',
      body: JSON.stringify({ spoof: true }),
    })
    expect(append.status).toBe(403)
  })

  it('refuses to ack for, or read the cursors of, another user’s client', async () => {
    const ack = await errorOf(
      await s.as('mallory', `/v1/clients/${aliceClientId}/acks`, {
        method: 'POST',
        body: JSON.stringify({ stream: 'room:public', offset: 0 }),
      }),
    )
    expect(ack).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const cursors = await errorOf(await s.as('mallory', `/v1/clients/${aliceClientId}/cursors`))
    expect(cursors).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    expect(cursors.body).not.toContain('user:alice')

    // Mallory's own client may not ack alice's stream either.
    const own = (await (await s.as('mallory', '/v1/clients', { method: 'POST' })).json()) as {
      clientId: string
    }
    const ownAck = await errorOf(
      await s.as('mallory', `/v1/clients/${own.clientId}/acks`, {
        method: 'POST',
        body: JSON.stringify({ stream: 'user:alice', offset: 3 }),
      }),
    )
    expect(ownAck).toMatchObject({ status: 403, code: 'FORBIDDEN' })
  })

  it('refuses a hello without a valid token with UNAUTHENTICATED and a policy close', async () => {
    for (const token of ['', 'not a user id', 'x'.repeat(201)]) {
      const client = await connectRaw(s.wsUrl)
      client.send({ t: 'hello', token })
      expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'UNAUTHENTICATED' })
      expect((await client.closed).code).toBe(1008)
    }
    const before = await connectRaw(s.wsUrl)
    before.send({ t: 'sub', stream: 'user:alice', from: 'earliest' })
    expect(await before.next<ErrorFrame>('error')).toMatchObject({ code: 'HELLO_REQUIRED' })
    await before.close()
  })
})
