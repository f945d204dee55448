import { createHmac } from 'node:crypto'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { Authorize } from '../authenticator.js'
import { verifySignature } from '../hmac-signature.js'
import { createAuthorizeCallback } from './authorize-callback.js'

const SECRET = 'an-authorize-secret-of-32-chars!!'

/** One question as the backend received it. */
interface Question {
  readonly body: string
  readonly json: { user: string; stream: string; action: string; claims: Record<string, unknown> }
  readonly signature: string | undefined
  readonly res: ServerResponse
}

/**
 * A real HTTP backend on 127.0.0.1. `answer` replies to each question (or leaves it hanging when
 * it returns without ending the response); every question is recorded in `questions`.
 */
interface Backend {
  readonly url: string
  readonly questions: Question[]
  answer: (q: Question) => void
  /** Resolves once `count` questions have arrived. */
  received(count: number): Promise<void>
  close(): Promise<void>
}

const backends: Backend[] = []
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close()
})

async function startBackend(answer: (q: Question) => void): Promise<Backend> {
  const questions: Question[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const signature = req.headers['seqline-signature']
      const q: Question = {
        body,
        json: JSON.parse(body) as Question['json'],
        signature: typeof signature === 'string' ? signature : undefined,
        res,
      }
      questions.push(q)
      for (const w of waiters.filter((w) => questions.length >= w.count)) w.resolve()
      backend.answer(q)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const backend: Backend = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/authorize`,
    questions,
    answer,
    received: (count) =>
      questions.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  backends.push(backend)
  return backend
}

function reply(q: Question, status: number, body?: unknown, cacheControl?: string): void {
  if (cacheControl !== undefined) q.res.setHeader('Cache-Control', cacheControl)
  if (body === undefined) q.res.writeHead(status).end()
  else q.res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
}

/** Answers `{"allow": true}` to everything. */
const allowAll = (q: Question): void => reply(q, 200, { allow: true })

/** The code of the SeqlineError `authorize` rejects with. */
async function refusal(decision: ReturnType<Authorize>): Promise<string> {
  const error = await Promise.resolve(decision).then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(error).toBeInstanceOf(SeqlineError)
  return (error as SeqlineError).code
}

const noClaims = { claims: {} }

describe('createAuthorizeCallback', () => {
  it('posts user, stream, action and claims, and follows {"allow": true}', async () => {
    const backend = await startBackend(allowAll)
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    const claims = { sub: 'alice', rooms: ['general'] }
    expect(await authorize('alice', 'room:general', 'publish', { claims })).toBe(true)
    expect(backend.questions[0]?.json).toEqual({
      user: 'alice',
      stream: 'room:general',
      action: 'publish',
      claims,
    })
  })

  it('follows {"allow": false}, 403 as a deny and 204 as an allow', async () => {
    const answers = new Map<string, (q: Question) => void>([
      ['s1', (q) => reply(q, 200, { allow: false })],
      ['s2', (q) => reply(q, 403)],
      ['s3', (q) => reply(q, 204)],
    ])
    const backend = await startBackend((q) => answers.get(q.json.stream)?.(q))
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    expect(await authorize('alice', 's1', 'read', noClaims)).toBe(false)
    expect(await authorize('alice', 's2', 'read', noClaims)).toBe(false)
    expect(await authorize('alice', 's3', 'read', noClaims)).toBe(true)
  })

  it('signs each request so that the receiver can verify it with the shared secret', async () => {
    const backend = await startBackend(allowAll)
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    await authorize('alice', 'room:general', 'read', { claims: { sub: 'alice' } })
    const { body, signature } = backend.questions[0] as Question
    expect(verifySignature(SECRET, signature, body)).toBe(true)
    // What a receiver in any language does: HMAC-SHA256(secret, t + "." + body), in hex.
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature ?? '')
    expect(match).not.toBeNull()
    const [, t, v1] = match as RegExpExecArray
    expect(createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')).toBe(v1)
    expect(verifySignature('another-secret-of-32-characters!!!', signature, body)).toBe(false)
    expect(verifySignature(SECRET, signature, body.replace('alice', 'mallo'))).toBe(false)
    expect(verifySignature(SECRET, signature, body, { nowSec: Number(t) + 301 })).toBe(false)
  })

  it('caches allow and deny answers for the max-age the backend gives, then asks again', async () => {
    let clock = 1_000_000
    const backend = await startBackend((q) =>
      reply(q, 200, { allow: q.json.stream === 'open' }, 'max-age=60'),
    )
    const authorize = createAuthorizeCallback({
      url: backend.url,
      secret: SECRET,
      now: () => clock,
    })
    for (let i = 0; i < 3; i++) {
      expect(await authorize('alice', 'open', 'read', noClaims)).toBe(true)
      expect(await authorize('alice', 'closed', 'read', noClaims)).toBe(false)
    }
    expect(backend.questions).toHaveLength(2)
    clock += 59_999
    expect(await authorize('alice', 'open', 'read', noClaims)).toBe(true)
    expect(backend.questions).toHaveLength(2)
    clock += 1
    expect(await authorize('alice', 'open', 'read', noClaims)).toBe(true)
    expect(await authorize('alice', 'closed', 'read', noClaims)).toBe(false)
    expect(backend.questions).toHaveLength(4)
  })

  it('forgets a revoked user at once, before the max-age runs out, and nobody else', async () => {
    const backend = await startBackend((q) => reply(q, 204, undefined, 'max-age=600'))
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    await authorize('alice', 'room:a', 'read', noClaims)
    await authorize('alice2', 'room:a', 'read', noClaims)
    expect(backend.questions).toHaveLength(2)
    authorize.forget?.('alice')
    await authorize('alice', 'room:a', 'read', noClaims)
    await authorize('alice2', 'room:a', 'read', noClaims)
    expect(backend.questions.map((q) => q.json.user)).toEqual(['alice', 'alice2', 'alice'])
  })

  it('caches nothing without max-age, and no longer than its own upper bound', async () => {
    let clock = 0
    const backend = await startBackend((q) =>
      reply(q, 204, undefined, q.json.stream === 'long' ? 'max-age=86400' : undefined),
    )
    const authorize = createAuthorizeCallback({
      url: backend.url,
      secret: SECRET,
      maxCacheSeconds: 10,
      now: () => clock,
    })
    await authorize('alice', 'short', 'read', noClaims)
    await authorize('alice', 'short', 'read', noClaims)
    expect(backend.questions).toHaveLength(2)
    await authorize('alice', 'long', 'read', noClaims)
    clock += 10_000
    await authorize('alice', 'long', 'read', noClaims)
    expect(backend.questions).toHaveLength(4)
  })

  it('keys answers by user, stream, action and grants, not by token timestamps', async () => {
    const backend = await startBackend((q) => reply(q, 204, undefined, 'max-age=60'))
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    await authorize('alice', 'room:a', 'read', { claims: { rooms: ['a'], iat: 1, exp: 100 } })
    await authorize('alice', 'room:a', 'read', { claims: { rooms: ['a'], iat: 2, exp: 200 } })
    expect(backend.questions).toHaveLength(1)
    await authorize('alice', 'room:a', 'read', { claims: { rooms: ['a', 'b'] } })
    await authorize('bob', 'room:a', 'read', { claims: { rooms: ['a'] } })
    await authorize('alice', 'room:a', 'publish', { claims: { rooms: ['a'] } })
    expect(backend.questions).toHaveLength(4)
  })

  it('asks once for identical questions asked at the same time', async () => {
    const backend = await startBackend(() => undefined)
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    const decisions = Array.from({ length: 5 }, () =>
      authorize('alice', 'room:a', 'read', noClaims),
    )
    await backend.received(1)
    reply(backend.questions[0] as Question, 200, { allow: true })
    expect(await Promise.all(decisions)).toEqual([true, true, true, true, true])
    expect(backend.questions).toHaveLength(1)
  })

  it('refuses with BACKEND_UNAVAILABLE at once when the backend refuses connections', async () => {
    const backend = await startBackend(allowAll)
    await backend.close()
    // A timeout longer than the test's own: only an immediate refusal lets this test pass.
    const authorize = createAuthorizeCallback({
      url: backend.url,
      secret: SECRET,
      timeoutMs: 120_000,
    })
    expect(await refusal(authorize('alice', 'room:a', 'read', noClaims))).toBe(
      ErrorCode.BACKEND_UNAVAILABLE,
    )
  })

  it('refuses with BACKEND_UNAVAILABLE when the backend hangs, while other users are served', async () => {
    const backend = await startBackend((q) => {
      if (q.json.user !== 'slow') allowAll(q)
    })
    const authorize = createAuthorizeCallback({
      url: backend.url,
      secret: SECRET,
      timeoutMs: 1_000,
    })
    let slowSettled = false
    const slow = Promise.resolve(authorize('slow', 'room:a', 'read', noClaims)).finally(() => {
      slowSettled = true
    })
    await backend.received(1)
    expect(await authorize('fast', 'room:a', 'read', noClaims)).toBe(true)
    expect(slowSettled).toBe(false)
    expect(await refusal(slow)).toBe(ErrorCode.BACKEND_UNAVAILABLE)
  })

  it('serves cached answers and other users while one user fills its share of the slots', async () => {
    let hold = false
    const backend = await startBackend((q) => {
      if (q.json.user === 'slow' || hold) return
      reply(q, 204, undefined, 'max-age=60')
    })
    const authorize = createAuthorizeCallback({
      url: backend.url,
      secret: SECRET,
      // Long enough that no question times out before the checks below are done.
      timeoutMs: 3_000,
      maxConcurrent: 3,
      maxConcurrentPerUser: 2,
    })
    expect(await authorize('cached', 'room:a', 'read', noClaims)).toBe(true)
    // The slow user asks about many streams: only two of their questions take a slot.
    const slow = ['s1', 's2', 's3', 's4'].map((s) =>
      Promise.resolve(authorize('slow', s, 'read', noClaims)).then(
        () => 'answered',
        (err: SeqlineError) => err.code,
      ),
    )
    await backend.received(3)
    expect(await authorize('fast', 'room:a', 'read', noClaims)).toBe(true)
    expect(backend.questions.filter((q) => q.json.user === 'slow')).toHaveLength(2)
    // Every slot is taken now (two slow, one held): the cached answer needs none.
    hold = true
    const held = authorize('other', 'room:b', 'read', noClaims)
    await backend.received(5)
    expect(await authorize('cached', 'room:a', 'read', noClaims)).toBe(true)
    expect(await refusal(held)).toBe(ErrorCode.BACKEND_UNAVAILABLE)
    expect(await Promise.all(slow)).toEqual(Array(4).fill(ErrorCode.BACKEND_UNAVAILABLE))
  })

  it.each([
    ['a 500', (q: Question) => reply(q, 500, { error: 'boom' })],
    ['a 401', (q: Question) => reply(q, 401)],
    ['a 200 without a JSON body', (q: Question) => q.res.writeHead(200).end('yes')],
    ['a 200 without a boolean allow', (q: Question) => reply(q, 200, { allow: 'true' })],
    ['a redirect', (q: Question) => q.res.writeHead(302, { Location: '/elsewhere' }).end()],
    ['an oversized body', (q: Question) => q.res.writeHead(200).end(' '.repeat(100_000))],
  ])('refuses with BACKEND_UNAVAILABLE on %s', async (_name, answer) => {
    const backend = await startBackend(answer)
    const authorize = createAuthorizeCallback({ url: backend.url, secret: SECRET })
    expect(await refusal(authorize('alice', 'room:a', 'read', noClaims))).toBe(
      ErrorCode.BACKEND_UNAVAILABLE,
    )
  })

  it('refuses a short secret and a URL that is not http(s) at creation', () => {
    expect(() => createAuthorizeCallback({ url: 'http://127.0.0.1/', secret: 'short' })).toThrow(
      /at least 32 characters/,
    )
    expect(() => createAuthorizeCallback({ url: 'ftp://x/', secret: SECRET })).toThrow(/http/)
    expect(() => createAuthorizeCallback({ url: 'https://user:pw@x/', secret: SECRET })).toThrow(
      /credentials/,
    )
  })
})
