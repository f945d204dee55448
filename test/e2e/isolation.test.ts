import type { ErrorFrame, MsgFrame, PubackFrame } from '@seqline/protocol'
import { type SeqlineServer, createServer } from '@seqline/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { connectRaw } from '../support/ws-test-client.js'
import {
  type GreetedClient,
  greet,
  publishMany,
  subscribeUntilCaughtUp,
} from '../support/wire-session.js'

// G8 Isolation: a user reads and publishes only where `authorize` allows, and can never attach
// to, read from or ack for another user's client. The CLI has no option for an authorize hook, so
// this suite runs the server in-process (same WebSocket and SQLite code paths).

/** `user:<name>` streams belong to that user; every other stream is open to all. */
const authorize = (user: string, stream: string): boolean =>
  !stream.startsWith('user:') || stream === `user:${user}`

describe('isolation between users (G8)', () => {
  let dir: TempDir
  let server: SeqlineServer
  let wsUrl: string
  let httpUrl: string
  let alice: GreetedClient
  let aliceEpoch: string

  beforeAll(async () => {
    dir = await createTempDir('seqline-isolation-')
    server = await createServer({
      store: `sqlite:${dir.join('seqline.db')}`,
      auth: 'dev',
      authorize,
      logLevel: 'silent',
    })
    const { port } = await server.listen(0, '127.0.0.1')
    wsUrl = `ws://127.0.0.1:${port}/v1/ws`
    httpUrl = `http://127.0.0.1:${port}`
    alice = await greet(wsUrl, { token: 'alice' })
    const [ack] = await publishMany(alice.client, {
      stream: 'user:alice',
      epoch: 0,
      seqs: [0],
      data: () => ({ secret: 'for alice only' }),
    })
    aliceEpoch = (ack as PubackFrame).epoch
  })
  afterAll(async () => {
    await alice?.client.close()
    await server?.close()
    await dir?.remove()
  })

  /** Alice's connection is untouched: it still answers. */
  async function aliceStillConnected(): Promise<void> {
    alice.client.send({ t: 'ping' })
    await alice.client.next('pong')
  }

  it("refuses another user's token on a client id with FORBIDDEN and close 1008", async () => {
    const bob = await connectRaw(wsUrl)
    bob.send({
      t: 'hello',
      token: 'bob',
      clientId: alice.welcome.clientId,
      secret: alice.welcome.secret,
      // Even naming Alice's live connection must not let Bob take it over.
      takeover: alice.welcome.connectionId,
    })
    const error = await bob.next<ErrorFrame>()
    expect(error).toMatchObject({ t: 'error', code: 'FORBIDDEN' })
    expect(await bob.closed).toMatchObject({ code: 1008 })
    expect(bob.frames.some((f) => f.t === 'welcome')).toBe(false)
    await aliceStillConnected()
  })

  it('refuses a wrong secret with FORBIDDEN and close 1008', async () => {
    const impostor = await connectRaw(wsUrl)
    impostor.send({
      t: 'hello',
      token: 'alice',
      clientId: alice.welcome.clientId,
      secret: 'not-the-secret',
      takeover: alice.welcome.connectionId,
    })
    expect(await impostor.next()).toMatchObject({ t: 'error', code: 'FORBIDDEN' })
    expect(await impostor.closed).toMatchObject({ code: 1008 })
    expect(impostor.frames.some((f) => f.t === 'welcome')).toBe(false)
    await aliceStillConnected()
  })

  it('refuses a sub to an unauthorised stream with FORBIDDEN and sends none of its messages', async () => {
    const bob = await greet(wsUrl, { token: 'bob' })
    bob.client.send({ t: 'sub', stream: 'user:alice', from: 'earliest' })
    expect(await bob.client.next('error')).toMatchObject({
      t: 'error',
      code: 'FORBIDDEN',
      stream: 'user:alice',
    })
    // Bob's own stream works on the same connection.
    const own = await subscribeUntilCaughtUp(bob.client, 'user:bob', 'earliest')
    expect(own.caughtUp.stream).toBe('user:bob')

    // A new message in Alice's stream does not reach Bob either.
    await publishMany(alice.client, { stream: 'user:alice', epoch: 0, seqs: [1], data: () => 2 })
    bob.client.send({ t: 'ping' })
    await bob.client.next('pong')
    expect(bob.client.frames.filter((f) => 'stream' in f && f.stream === 'user:alice')).toEqual([
      expect.objectContaining({ t: 'error', code: 'FORBIDDEN' }),
    ])
    await bob.client.close()
  })

  it("refuses publishing, signalling and acking on another user's stream", async () => {
    const bob = await greet(wsUrl, { token: 'bob' })
    const [nack] = await publishMany(bob.client, {
      stream: 'user:alice',
      epoch: 0,
      seqs: [0],
      data: () => 'spoof',
    })
    expect(nack).toMatchObject({ t: 'nack', stream: 'user:alice', seq: 0, code: 'FORBIDDEN' })
    bob.client.send({ t: 'signal', stream: 'user:alice', data: { typing: true } })
    expect(await bob.client.next('error')).toMatchObject({
      code: 'FORBIDDEN',
      stream: 'user:alice',
    })
    bob.client.send({ t: 'ack', stream: 'user:alice', offset: 1 })
    expect(await bob.client.next('error')).toMatchObject({
      code: 'FORBIDDEN',
      stream: 'user:alice',
    })

    const { msgs } = await subscribeUntilCaughtUp(alice.client, 'user:alice', 'earliest')
    expect(msgs.map((m) => m.from)).toEqual(['alice', 'alice'])
    alice.client.send({ t: 'unsub', stream: 'user:alice' })
    await bob.client.close()
  })

  it('refuses an unauthorised stream named in the resume of hello and resumes the others', async () => {
    const bob = await greet(wsUrl, { token: 'bob' })
    const [ack] = await publishMany(bob.client, {
      stream: 'room:lobby',
      epoch: 0,
      seqs: [0],
      data: () => 'hi',
    })
    const lobbyEpoch = (ack as PubackFrame).epoch
    await bob.client.close()

    const resumed = await connectRaw(wsUrl)
    resumed.send({
      t: 'hello',
      token: 'bob',
      clientId: bob.welcome.clientId,
      secret: bob.welcome.secret,
      resume: [
        { stream: 'user:alice', epoch: aliceEpoch, offset: 0 },
        { stream: 'room:lobby', epoch: lobbyEpoch, offset: 0 },
      ],
    })
    expect(await resumed.next()).toMatchObject({ t: 'welcome', clientId: bob.welcome.clientId })
    expect(await resumed.next('error')).toMatchObject({ code: 'FORBIDDEN', stream: 'user:alice' })
    const lobby = await resumed.next<MsgFrame>('msg')
    expect(lobby).toMatchObject({ stream: 'room:lobby', offset: 1, data: 'hi' })
    expect(await resumed.next('caughtUp')).toMatchObject({ stream: 'room:lobby', recovered: true })
    expect(
      resumed.frames.filter((f) => f.t === 'msg' || f.t === 'caughtUp' || f.t === 'reset'),
    ).toHaveLength(2)
    await resumed.close()
  })

  it("refuses another user's client over HTTP: cursors, acks and private presence", async () => {
    const asBob = { authorization: 'Bearer bob', 'content-type': 'application/json' }
    const cursors = await fetch(`${httpUrl}/v1/clients/${alice.welcome.clientId}/cursors`, {
      headers: asBob,
    })
    expect(cursors.status).toBe(403)
    expect(await cursors.json()).toMatchObject({ error: { code: 'FORBIDDEN' } })

    const ack = await fetch(`${httpUrl}/v1/clients/${alice.welcome.clientId}/acks`, {
      method: 'POST',
      headers: asBob,
      body: JSON.stringify({ stream: 'user:alice', offset: 1 }),
    })
    expect(ack.status).toBe(403)

    const presence = await fetch(`${httpUrl}/v1/presence/user:alice`, { headers: asBob })
    expect(presence.status).toBe(403)

    // And Alice's cursor did not move.
    const own = await fetch(`${httpUrl}/v1/clients/${alice.welcome.clientId}/cursors`, {
      headers: { authorization: 'Bearer alice' },
    })
    expect(own.status).toBe(200)
    expect(await own.json()).toEqual({ cursors: [] })
  })
})
