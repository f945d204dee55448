import { writeFile } from 'node:fs/promises'
import type { ErrorFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Authenticate } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { TEST_JWT_SECRET, signToken } from '../auth/jwt-tokens.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { connectRaw } from '../support/ws-test-client.js'

// F11: a user id travels into `from` fields, presence, logs and permission checks, so the server
// accepts only ids matching USER_ID_PATTERN — whoever authenticated them, a JWT or a custom hook
// — and JWTs must carry `exp` (unless `--jwt-require-exp false`). Both doors are tried.

const HOSTILE = ['alice\u0000', 'alice\nadmin', '<script>alert(1)</script>', 'alice smith', '']

async function listen(auth: string | Authenticate) {
  const server = await createServer({ store: 'memory:', auth, logLevel: 'silent' })
  const { port } = await server.listen(0, '127.0.0.1')
  return { server, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` }
}

/** How both doors answer `token`: the HTTP status, the hello's error code and close code. */
async function doors(target: { url: string; wsUrl: string }, token: string) {
  const res = await fetch(`${target.url}/v1/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  })
  await res.body?.cancel()
  const client = await connectRaw(target.wsUrl)
  client.send({ t: 'hello', token })
  const first = await client.next()
  const closed = await client.closed
  return {
    http: res.status,
    hello: first.t === 'error' ? (first as ErrorFrame).code : first.t,
    close: closed.code,
  }
}

const REFUSED = { http: 401, hello: 'UNAUTHENTICATED', close: 1008 }

describe('user ids at both doors (F11)', () => {
  let dir: TempDir
  let jwt: { server: SeqlineServer; url: string; wsUrl: string }
  let hook: { server: SeqlineServer; url: string; wsUrl: string }

  beforeAll(async () => {
    dir = await createTempDir()
    const secretFile = dir.join('jwt-secret')
    await writeFile(secretFile, TEST_JWT_SECRET, { mode: 0o600 })
    jwt = await listen(`jwt:file:${secretFile}`)
    // A custom hook that believes whatever the token says: the server still checks the id.
    hook = await listen(async (token: string) => decodeURIComponent(token))
  })
  afterAll(async () => {
    await jwt?.server.close()
    await hook?.server.close()
    await dir?.remove()
  })

  it.each(HOSTILE.map((id) => [JSON.stringify(id), id]))(
    'refuses a JWT whose subject is %s',
    async (_shown, id) => {
      expect(await doors(jwt, await signToken(id))).toEqual(REFUSED)
    },
  )

  it.each(HOSTILE.filter((id) => id !== '').map((id) => [JSON.stringify(id), id]))(
    'refuses the id %s from a custom authenticate hook',
    async (_shown, id) => {
      expect(await doors(hook, encodeURIComponent(id))).toEqual(REFUSED)
    },
  )

  it('refuses a JWT without exp', async () => {
    expect(await doors(jwt, await signToken('alice', {}, { expiresInSec: null }))).toEqual(REFUSED)
  })

  it('accepts a well-formed subject at both doors', async () => {
    const token = await signToken('auth0|5f7c8ec7c33c6c004bbafe82')
    const res = await fetch(`${jwt.url}/v1/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(201)
    const client = await connectRaw(jwt.wsUrl)
    client.send({ t: 'hello', token })
    expect(await client.next('welcome')).toMatchObject({ userId: 'auth0|5f7c8ec7c33c6c004bbafe82' })
    await client.close()
  })
})
