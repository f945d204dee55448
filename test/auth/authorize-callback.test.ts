import { writeFile } from 'node:fs/promises'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySignature } from '../../packages/server/src/auth/hmac-signature.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { greet } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'
import { TEST_JWT_SECRET, signToken } from './jwt-tokens.js'

// `seqline serve --authorize-url`: every decision is asked of the application's backend — here a
// real HTTP server in the test that checks each signature and answers as an app would:
// room:open allowed to all, room:team only to members (the "team" claim), room:flaky hanging
// until the test lets it answer.

const AUTHORIZE_SECRET = 'the-authorize-secret-shared-with-the-backend'

interface Asked {
  readonly user: string
  readonly stream: string
  readonly action: string
  readonly claims: Record<string, unknown>
}

let dir: TempDir
let backend: Server
let server: ServerProcess
const asked: Asked[] = []
let badSignatures = 0
/** While true, questions about room:flaky get no answer. */
let flakyHangs = true
const hanging: ServerResponse[] = []
const open: RawClient[] = []

function answer(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    const signature = req.headers['seqline-signature']
    if (!verifySignature(AUTHORIZE_SECRET, typeof signature === 'string' ? signature : '', body)) {
      badSignatures += 1
      res.writeHead(401).end()
      return
    }
    const q = JSON.parse(body) as Asked
    asked.push(q)
    if (q.stream === 'room:flaky' && flakyHangs) {
      hanging.push(res)
      return
    }
    const allow =
      q.stream === 'room:open' ||
      q.stream === 'room:flaky' ||
      (q.stream === 'room:team' && q.claims.team === true)
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ allow }))
  })
}

beforeAll(async () => {
  dir = await createTempDir()
  backend = createServer(answer)
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
  const jwtFile = dir.join('jwt-secret')
  await writeFile(jwtFile, TEST_JWT_SECRET, { mode: 0o600 })
  const secretFile = dir.join('authorize-secret')
  await writeFile(secretFile, `${AUTHORIZE_SECRET}\n`, { mode: 0o600 })
  const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/seqline/authorize`
  server = await startServerProcess({
    args: [
      '--auth',
      `jwt:file:${jwtFile}`,
      '--authorize-url',
      url,
      '--authorize-secret-file',
      secretFile,
      '--authorize-timeout-ms',
      '1000',
    ],
  })
})

afterAll(async () => {
  for (const client of open) client.destroy()
  await server?.dispose()
  for (const res of hanging) res.destroy()
  await new Promise<void>((resolve) => {
    backend?.closeAllConnections()
    backend?.close(() => resolve())
  })
  await dir?.remove()
})

async function connect(token: string): Promise<RawClient> {
  const { client } = await greet(server.wsUrl, { token })
  open.push(client)
  return client
}

/** `ok` at `caughtUp`, else the code of the `error` frame for the stream. */
async function sub(client: RawClient, stream: string): Promise<string> {
  client.send({ t: 'sub', stream, from: 'earliest' })
  const frame = await client.next(
    (f) => (f.t === 'caughtUp' || f.t === 'error') && 'stream' in f && f.stream === stream,
  )
  return frame.t === 'error' ? frame.code : 'ok'
}

describe('seqline serve --authorize-url', () => {
  it("follows the backend's answers, with the token's claims in each question", async () => {
    const member = await connect(await signToken('alice', { team: true }))
    const outsider = await connect(await signToken('bob'))
    expect(await sub(member, 'room:open')).toBe('ok')
    expect(await sub(member, 'room:team')).toBe('ok')
    expect(await sub(outsider, 'room:open')).toBe('ok')
    expect(await sub(outsider, 'room:team')).toBe('FORBIDDEN')
    expect(asked.find((q) => q.user === 'alice' && q.stream === 'room:team')).toMatchObject({
      action: 'read',
      claims: { sub: 'alice', team: true },
    })
    expect(badSignatures).toBe(0)
  })

  it('tells the client BACKEND_UNAVAILABLE when the backend does not answer, on both doors', async () => {
    const token = await signToken('carol')
    const client = await connect(token)
    expect(await sub(client, 'room:flaky')).toBe('BACKEND_UNAVAILABLE')
    const res = await fetch(`${server.url}/v1/stream/room:flaky?offset=-1`, {
      headers: { Authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'BACKEND_UNAVAILABLE',
    )
    // Meanwhile other decisions go through.
    expect(await sub(client, 'room:open')).toBe('ok')
  })

  it('asks again on the next publish once the backend answers', async () => {
    flakyHangs = true
    const client = await connect(await signToken('dave'))
    client.send({ t: 'pub', stream: 'room:flaky', epoch: 0, seq: 0, data: 1 })
    const nack = await client.next((f) => f.t === 'nack' && f.stream === 'room:flaky')
    expect(nack).toMatchObject({ code: 'BACKEND_UNAVAILABLE' })
    flakyHangs = false
    client.send({ t: 'pub', stream: 'room:flaky', epoch: 0, seq: 0, data: 1 })
    expect(
      await client.next((f) => (f.t === 'puback' || f.t === 'nack') && f.stream === 'room:flaky'),
    ).toMatchObject({ t: 'puback', offset: 1 })
  })

  it('refuses to start without the secret, and never takes it from the command line', async () => {
    const base = ['--authorize-url', 'http://127.0.0.1:9/authorize']
    for (const args of [base, [...base, '--authorize-secret', AUTHORIZE_SECRET]]) {
      const refusal = await startServerProcess({ args }).then(
        () => undefined,
        (err: unknown) => err as Error,
      )
      expect(refusal?.message).toMatch(/exited with (1|2)/)
      expect(refusal?.message).not.toContain(AUTHORIZE_SECRET)
    }
  })

  it('takes the secret from SEQLINE_AUTHORIZE_SECRET', async () => {
    const other = await startServerProcess({
      args: ['--authorize-url', `http://127.0.0.1:${(backend.address() as AddressInfo).port}/`],
      env: { SEQLINE_AUTHORIZE_SECRET: AUTHORIZE_SECRET },
    })
    try {
      const { client } = await greet(other.wsUrl, { token: 'erin' })
      open.push(client)
      expect(await sub(client, 'room:open')).toBe('ok')
      expect(await sub(client, 'room:team')).toBe('FORBIDDEN')
      expect(badSignatures).toBe(0)
    } finally {
      await other.dispose()
    }
  })
})
