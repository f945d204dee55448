import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'

// DESIGN §8 / G8 on the HTTP door: every route authenticates (Authorization: Bearer, or for
// GET/HEAD the access_token query parameter / seqline_token cookie that EventSource needs) and
// authorises before it looks at the stream, so a refused request learns nothing: no data, no
// offset, not even whether the stream exists.

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long'
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

async function tokenFor(user: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

let s: InProcessServer
let alice: string
let mallory: string
const SECRET_STREAM = 'private:alice'
const url = (query = ''): string => `${s.url}/v1/stream/${SECRET_STREAM}${query}`

/** Every Durable Streams request shape, for one user's headers. */
function routes(
  headers: Record<string, string>,
  offset = '-1',
): [string, () => Promise<Response>][] {
  const json = { ...headers, 'Content-Type': 'application/json' }
  return [
    ['PUT', () => fetch(url(), { method: 'PUT', headers: json })],
    [
      'PUT fork',
      () =>
        fetch(`${s.url}/v1/stream/private:fork`, {
          method: 'PUT',
          headers: { ...json, 'Stream-Forked-From': `/v1/stream/${SECRET_STREAM}` },
        }),
    ],
    ['POST', () => fetch(url(), { method: 'POST', headers: json, body: '{"x":1}' })],
    ['GET', () => fetch(url(`?offset=${offset}`), { headers })],
    ['GET long-poll', () => fetch(url(`?offset=${offset}&live=long-poll`), { headers })],
    ['GET sse', () => fetch(url(`?offset=${offset}&live=sse`), { headers })],
    ['HEAD', () => fetch(url(), { method: 'HEAD', headers })],
    ['DELETE', () => fetch(url(), { method: 'DELETE', headers })],
  ]
}

/** The refusal carries no stream data and no stream metadata. */
async function expectRefused(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status)
  for (const name of [
    'Stream-Next-Offset',
    'Stream-Up-To-Date',
    'Stream-Closed',
    'ETag',
    'Location',
  ]) {
    expect(res.headers.get(name)).toBeNull()
  }
  const text = await res.text()
  expect(text).not.toContain('secret payload')
  // HEAD answers have no body; every other refusal is Seqline's JSON error.
  if (text !== '') expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe(code)
}

beforeAll(async () => {
  s = await startInProcessServer({
    auth: `jwt:${SECRET}`,
    authorize: (user, stream) => !stream.startsWith('private:') || user === 'alice',
  })
  alice = await tokenFor('alice')
  mallory = await tokenFor('mallory')
  const created = await fetch(url(), {
    method: 'PUT',
    headers: { ...bearer(alice), 'Content-Type': 'application/json' },
    body: '{"note":"secret payload"}',
  })
  expect(created.status).toBe(201)
})
afterAll(() => s?.close())

describe('Durable Streams routes', () => {
  it('answer 401 UNAUTHENTICATED without a token or with a bad one, TOKEN_EXPIRED with an expired one', async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET))
    for (const [headers, code] of [
      [{}, 'UNAUTHENTICATED'],
      [bearer('not-a-jwt'), 'UNAUTHENTICATED'],
      [bearer(expired), 'TOKEN_EXPIRED'],
      [{ Authorization: 'Basic YWxpY2U6eA==' }, 'UNAUTHENTICATED'],
    ] as const) {
      for (const [route, send] of routes(headers)) {
        const res = await send()
        await expectRefused(res, 401, code)
        expect(res.headers.get('www-authenticate'), route).toMatch(/^Bearer/)
      }
    }
  })

  it('answer 403 FORBIDDEN to a user authorize refuses, whether the stream exists or not', async () => {
    for (const [route, send] of routes(bearer(mallory))) {
      const res = await send()
      await expectRefused(res, 403, 'FORBIDDEN')
      expect(res.status, route).toBe(403)
    }
    const missing = await fetch(`${s.url}/v1/stream/private:nothing-here`, {
      headers: bearer(mallory),
    })
    await expectRefused(missing, 403, 'FORBIDDEN')
    // Nothing Mallory sent reached the stream.
    const read = await fetch(url('?offset=-1'), { headers: bearer(alice) })
    expect(await read.json()).toEqual([{ note: 'secret payload' }])
  })

  it('refuses a fork of a stream the user may not read', async () => {
    const res = await fetch(`${s.url}/v1/stream/public:copy`, {
      method: 'PUT',
      headers: { ...bearer(mallory), 'Stream-Forked-From': `/v1/stream/${SECRET_STREAM}` },
    })
    await expectRefused(res, 403, 'FORBIDDEN')
    expect(
      (await fetch(`${s.url}/v1/stream/public:copy`, { method: 'HEAD', headers: bearer(mallory) }))
        .status,
    ).toBe(404)
  })

  it('accept the token in the access_token query parameter or the seqline_token cookie for reads', async () => {
    const byQuery = await fetch(url(`?offset=-1&access_token=${alice}`))
    expect(byQuery.status).toBe(200)
    expect(await byQuery.json()).toEqual([{ note: 'secret payload' }])
    const byCookie = await fetch(url('?offset=-1'), {
      headers: { Cookie: `seqline_token=${alice}` },
    })
    expect(byCookie.status).toBe(200)
    const sse = await fetch(url(`?offset=-1&live=sse&access_token=${alice}`))
    expect(sse.status).toBe(200)
    await sse.body?.cancel()
    const forbidden = await fetch(url(`?offset=-1&access_token=${mallory}`))
    await expectRefused(forbidden, 403, 'FORBIDDEN')
  })

  it('never take a query or cookie token for writes (cross-site request forgery)', async () => {
    const post = await fetch(url(`?access_token=${alice}`), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: `seqline_token=${alice}` },
      body: '{"forged":true}',
    })
    await expectRefused(post, 401, 'UNAUTHENTICATED')
    const del = await fetch(url(`?access_token=${alice}`), { method: 'DELETE' })
    await expectRefused(del, 401, 'UNAUTHENTICATED')
  })

  it('let the authorised user do everything', async () => {
    const name = 'private:alice-2'
    const headers = { ...bearer(alice), 'Content-Type': 'text/plain' }
    expect((await fetch(`${s.url}/v1/stream/${name}`, { method: 'PUT', headers })).status).toBe(201)
    expect(
      (await fetch(`${s.url}/v1/stream/${name}`, { method: 'POST', headers, body: 'x' })).status,
    ).toBe(204)
    expect((await fetch(`${s.url}/v1/stream/${name}`, { method: 'HEAD', headers })).status).toBe(
      200,
    )
    expect((await fetch(`${s.url}/v1/stream/${name}`, { method: 'DELETE', headers })).status).toBe(
      204,
    )
  })

  it('answer a CORS preflight without credentials, and nothing else', async () => {
    const res = await fetch(url(), {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization')
    expect(res.headers.get('Stream-Next-Offset')).toBeNull()
  })
})
