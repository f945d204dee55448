import { writeFile } from 'node:fs/promises'
import type {
  AuthOkFrame,
  ErrorFrame,
  MsgFrame,
  NackFrame,
  ServerFrame,
  WelcomeFrame,
} from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { TEST_JWT_SECRET, signToken } from '../auth/jwt-tokens.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'

// F4: a WebSocket used to outlive its credentials — an expired token, a rotated client secret, a
// deleted client. Now the welcome says when the token expires; at that moment the server tells the
// client, delivers and accepts nothing, and closes with 4401 unless a fresh token of the same user
// arrives within the grace period; rotating the secret or deleting the client ends its live
// connections at once (4403). Real HS256 JWTs, `jwt:file:` auth.

const GRACE_MS = 800
const STREAM = 'room:lifetime'

/** A token of `user` that expires in `seconds` (whole seconds: JWT `exp` is in seconds). */
function tokenFor(user: string, seconds: number): Promise<string> {
  return signToken(user, {}, { expiresInSec: seconds })
}

/** The frames `client` received from index `from` on, up to the first matching `until`. */
function framesBetween(client: RawClient, from: number, until: ServerFrame): ServerFrame[] {
  const end = client.frames.indexOf(until)
  return client.frames.slice(from, end < 0 ? undefined : end)
}

describe('credentials of an open WebSocket (F4)', () => {
  let dir: TempDir
  let server: SeqlineServer
  let wsUrl: string
  let url: string

  beforeAll(async () => {
    dir = await createTempDir()
    const secretFile = dir.join('jwt-secret')
    await writeFile(secretFile, TEST_JWT_SECRET, { mode: 0o600 })
    server = await createServer({
      store: 'memory:',
      auth: `jwt:file:${secretFile}`,
      logLevel: 'silent',
      connections: { authGraceMs: GRACE_MS },
    })
    const { port } = await server.listen(0, '127.0.0.1')
    url = `http://127.0.0.1:${port}`
    wsUrl = `ws://127.0.0.1:${port}/v1/ws`
  })
  afterAll(async () => {
    await server?.close()
    await dir?.remove()
  })

  /** Alice, subscribed to STREAM with a token that expires in `seconds` (or with `token`). */
  async function aliceFor(
    seconds: number,
    given?: string,
  ): Promise<{ client: RawClient; welcome: WelcomeFrame; token: string }> {
    const token = given ?? (await tokenFor('alice', seconds))
    const { client, welcome } = await greet(wsUrl, { token })
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
      exp: number
    }
    expect(welcome.expiresAt).toBe(exp.exp * 1000)
    await subscribeUntilCaughtUp(client, STREAM, 'latest')
    return { client, welcome, token }
  }

  /** Bob publishes one message to STREAM and resolves once it is committed. */
  async function bobPublishes(text: string): Promise<void> {
    const { client } = await greet(wsUrl, { token: await tokenFor('bob', 300) })
    client.send({ t: 'pub', stream: STREAM, epoch: 0, seq: 0, data: { text } })
    await client.next('puback')
    await client.close()
  }

  it('stops delivering and accepting at expiry, and closes with 4401 after the grace period', async () => {
    const { client } = await aliceFor(2)
    const expired = await client.next<ErrorFrame>('error', 5_000)
    expect(expired.code).toBe('TOKEN_EXPIRED')
    const from = client.frames.indexOf(expired)

    await bobPublishes('while alice is expired')
    client.send({ t: 'pub', stream: STREAM, epoch: 0, seq: 0, data: { text: 'late' } })
    expect(await client.next<NackFrame>('nack')).toMatchObject({ code: 'TOKEN_EXPIRED', seq: 0 })
    client.send({ t: 'sub', stream: 'room:other', from: 'earliest' })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'TOKEN_EXPIRED' })
    client.send({ t: 'ping' })
    const pong = await client.next('pong')
    // Bob's message was committed before the ping: it would have come before the pong.
    expect(framesBetween(client, from, pong).filter((f) => f.t === 'msg')).toEqual([])

    const closed = await client.closed
    expect(closed.code).toBe(4401)
    expect(client.frames.filter((f) => f.t === 'msg')).toEqual([])
  })

  it('resumes delivery where it stopped when a fresh token of the same user comes in time', async () => {
    const { client } = await aliceFor(2)
    expect(await client.next<ErrorFrame>('error', 5_000)).toMatchObject({ code: 'TOKEN_EXPIRED' })
    await bobPublishes('held back')
    const fresh = await tokenFor('alice', 300)
    client.send({ t: 'auth', token: fresh })
    const ok = await client.next<AuthOkFrame>('authOk')
    expect(ok.expiresAt).toBeGreaterThan(Date.now() + 200_000)
    const msg = await client.next<MsgFrame>('msg')
    expect(msg.data).toEqual({ text: 'held back' })
    client.send({ t: 'pub', stream: STREAM, epoch: 0, seq: 0, data: { text: 'back' } })
    expect(await client.next('puback')).toMatchObject({ seq: 0 })
    await client.close()
  })

  it('takes a fresh token before expiry and moves the expiry on', async () => {
    const { client, token } = await aliceFor(2)
    client.send({ t: 'auth', token: await tokenFor('alice', 300) })
    expect((await client.next<AuthOkFrame>('authOk')).expiresAt).toBeGreaterThan(Date.now())
    // A witness on the first token: once it is told the token expired, so would Alice have been.
    const witness = await aliceFor(0, token)
    expect(await witness.client.next<ErrorFrame>('error', 5_000)).toMatchObject({
      code: 'TOKEN_EXPIRED',
    })
    await bobPublishes('after the old expiry')
    client.send({ t: 'ping' })
    await client.next('pong')
    await expect(client.next<MsgFrame>('msg', 5_000)).resolves.toMatchObject({
      data: { text: 'after the old expiry' },
    })
    expect(client.frames.some((f) => f.t === 'error')).toBe(false)
    await client.close()
    await witness.client.close()
  })

  it('refuses a token of another user with FORBIDDEN and a policy close', async () => {
    const { client, welcome, token } = await aliceFor(300)
    client.send({ t: 'auth', token: await tokenFor('mallory', 300) })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
    expect((await client.closed).code).toBe(1008)
    // The refused connection's session ended with it: the client may come back at once (its one
    // connection slot is free), and is not counted as connected meanwhile.
    const again = await greet(wsUrl, {
      token,
      clientId: welcome.clientId,
      ...(welcome.secret === undefined ? {} : { secret: welcome.secret }),
    })
    expect(again.welcome.clientId).toBe(welcome.clientId)
    again.client.destroy()
  })

  it('refuses an invalid or expired token in auth (UNAUTHENTICATED, TOKEN_EXPIRED) and closes', async () => {
    for (const [token, code] of [
      ['not-a-jwt', 'UNAUTHENTICATED'],
      [await signToken('alice', {}, { expiresInSec: -60 }), 'TOKEN_EXPIRED'],
      [
        await signToken('alice', {}, { secret: 'another-secret-that-is-at-least-32-bytes' }),
        'UNAUTHENTICATED',
      ],
    ] as const) {
      const { client } = await aliceFor(300)
      client.send({ t: 'auth', token })
      expect(await client.next<ErrorFrame>('error')).toMatchObject({ code })
      expect((await client.closed).code).toBe(1008)
    }
  })

  it.each([
    ['rotating its secret', 'POST', '/secret'],
    ['deleting it', 'DELETE', ''],
  ])('closes a client’s live connection with 4403 on %s', async (_what, method, suffix) => {
    const { client, welcome } = await aliceFor(300)
    const res = await fetch(`${url}/v1/clients/${welcome.clientId}${suffix}`, {
      method,
      headers: { authorization: `Bearer ${await tokenFor('alice', 300)}` },
    })
    expect(res.status).toBeLessThan(300)
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'CLIENT_REVOKED' })
    expect((await client.closed).code).toBe(4403)
  })

  it('refuses an expired token at the HTTP door', async () => {
    const res = await fetch(`${url}/v1/history/${STREAM}`, {
      headers: { authorization: `Bearer ${await signToken('alice', {}, { expiresInSec: -60 })}` },
    })
    expect(res.status).toBe(401)
  })
})
