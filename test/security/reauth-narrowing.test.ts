import { writeFile } from 'node:fs/promises'
import type { ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { TEST_JWT_SECRET, signToken } from '../auth/jwt-tokens.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'

// A fresh token sent with `auth` replaces the connection's claims. When it grants less, the
// subscriptions it no longer allows end at once with FORBIDDEN (they used to keep delivering until
// the client reconnected); the ones it still allows keep delivering, nothing skipped. Real HS256
// JWTs and a permissions file whose read rule depends on a claim.

const POLICY = {
  rules: [
    {
      stream: 'team:{name}',
      allow: ['read', 'publish', 'presence'],
      when: [{ claim: 'teams', contains: '{name}' }],
    },
  ],
}

const isFor =
  (stream: string, ...types: string[]) =>
  (frame: ServerFrame): boolean =>
    types.includes(frame.t) && 'stream' in frame && frame.stream === stream

describe('re-authentication with fewer grants', () => {
  let dir: TempDir
  let server: SeqlineServer
  let wsUrl: string

  beforeAll(async () => {
    dir = await createTempDir()
    const secretFile = dir.join('jwt-secret')
    const policyFile = dir.join('permissions.json')
    await writeFile(secretFile, TEST_JWT_SECRET, { mode: 0o600 })
    await writeFile(policyFile, JSON.stringify(POLICY))
    server = await createServer({
      store: 'memory:',
      auth: `jwt:file:${secretFile}`,
      permissions: policyFile,
      logLevel: 'silent',
    })
    const { port } = await server.listen(0, '127.0.0.1')
    wsUrl = `ws://127.0.0.1:${port}/v1/ws`
  })
  afterAll(async () => {
    await server?.close()
    await dir?.remove()
  })

  /** Publishes one message as a member of every team and waits for its puback. */
  async function publish(stream: string, text: string): Promise<void> {
    const token = await signToken('publisher', { teams: ['a', 'b'] })
    const { client } = await greet(wsUrl, { token })
    try {
      client.send({ t: 'pub', stream, epoch: 0, seq: 0, data: { text } })
      expect((await client.next(isFor(stream, 'puback', 'nack'))).t).toBe('puback')
    } finally {
      client.destroy()
    }
  }

  it('ends the subscriptions the new token no longer allows, and only those', async () => {
    const { client } = await greet(wsUrl, {
      token: await signToken('alice', { teams: ['a', 'b'] }),
    })
    try {
      await subscribeUntilCaughtUp(client, 'team:a', 'latest')
      await subscribeUntilCaughtUp(client, 'team:b', 'latest')

      client.send({ t: 'auth', token: await signToken('alice', { teams: ['a'] }) })
      expect((await client.next('authOk')).t).toBe('authOk')
      const ended = await client.next(isFor('team:b', 'error'))
      expect(ended).toMatchObject({ t: 'error', stream: 'team:b', code: 'FORBIDDEN' })

      await publish('team:b', 'not for alice any more')
      await publish('team:a', 'still for alice')
      const delivered = await client.next(isFor('team:a', 'msg'))
      expect(delivered).toMatchObject({ stream: 'team:a', data: { text: 'still for alice' } })
      // Frames are handled in order: once the pong is back, nothing of team:b is on its way.
      client.send({ t: 'ping' })
      await client.next('pong')
      expect(client.frames.filter(isFor('team:b', 'msg'))).toEqual([])

      // Subscribing again is refused as well: the new claims decide every later request.
      client.send({ t: 'sub', stream: 'team:b', from: 'earliest' })
      expect(await client.next(isFor('team:b', 'error'))).toMatchObject({ code: 'FORBIDDEN' })
    } finally {
      client.destroy()
    }
  })

  it('keeps every subscription when the new token grants the same', async () => {
    const { client } = await greet(wsUrl, {
      token: await signToken('bob', { teams: ['a', 'b'] }),
    })
    try {
      await subscribeUntilCaughtUp(client, 'team:a', 'latest')
      await subscribeUntilCaughtUp(client, 'team:b', 'latest')
      client.send({ t: 'auth', token: await signToken('bob', { teams: ['b', 'a'] }) })
      await client.next('authOk')
      await publish('team:b', 'for bob')
      expect(await client.next(isFor('team:b', 'msg', 'error'))).toMatchObject({
        t: 'msg',
        data: { text: 'for bob' },
      })
      expect(client.frames.filter((f) => f.t === 'error')).toEqual([])
    } finally {
      client.destroy()
    }
  })
})
