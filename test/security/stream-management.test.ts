import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer } from '../../packages/server/src/server.js'
import { OPEN_PERMISSIONS } from '../support/server-process.js'
import { errorOf } from './security-server.js'

// F6: being allowed to publish to a room used to be enough to delete it, close it for good, or
// pre-create it with a 2-second TTL or as HTML. Those now need `manage`, which the default
// authorize gives nobody; a plain JSON PUT — what a first publish would create — needs `publish`.

const future = new Date(Date.now() + 3_600_000).toISOString()

/** Requests that configure or destroy a stream, each needing `manage`. */
const MANAGING: [string, string, Record<string, string>][] = [
  ['deleting a stream (DELETE)', 'DELETE', {}],
  ['closing a stream (POST with Stream-Closed)', 'POST', { 'stream-closed': 'true' }],
  [
    'creating a stream with a TTL',
    'PUT',
    { 'content-type': 'application/json', 'stream-ttl': '2' },
  ],
  [
    'creating a stream with an expiry',
    'PUT',
    { 'content-type': 'application/json', 'stream-expires-at': future },
  ],
  [
    'creating a closed stream',
    'PUT',
    { 'content-type': 'application/json', 'stream-closed': 'true' },
  ],
  ['creating an HTML stream', 'PUT', { 'content-type': 'text/html' }],
  ['creating a byte stream', 'PUT', { 'content-type': 'application/octet-stream' }],
  ['creating a stream without a content type', 'PUT', {}],
  [
    'forking a stream',
    'PUT',
    { 'content-type': 'application/json', 'stream-forked-from': '/v1/stream/room:existing' },
  ],
]

/** The stream a request of MANAGING acts on: a new one for creations, else an existing one. */
const targetOf = (what: string, method: string, prefix: string): string =>
  method === 'PUT' ? `room:${prefix}-${what.replace(/\W+/g, '-')}` : 'room:existing'

async function start(options: { permissions?: string } = {}) {
  const server = await createServer({
    store: 'memory:',
    auth: 'dev',
    logLevel: 'silent',
    ...options,
  })
  const { port } = await server.listen(0, '127.0.0.1')
  const url = `http://127.0.0.1:${port}`
  const call = (method: string, stream: string, headers: Record<string, string>) =>
    fetch(`${url}/v1/stream/${stream}`, {
      method,
      headers: { authorization: 'Bearer mallory', ...headers },
    })
  return { server, url, call }
}

describe('managing streams on the default authorize (F6)', () => {
  let s: Awaited<ReturnType<typeof start>>
  beforeAll(async () => {
    // The default authorize: everything but manage.
    s = await start()
    const created = await s.call('PUT', 'room:existing', { 'content-type': 'application/json' })
    expect(created.status).toBe(201)
  })
  afterAll(() => s?.server.close())

  it.each(MANAGING)('refuses %s to a user who may only publish', async (what, method, headers) => {
    const target = targetOf(what, method, 'new')
    const answer = await errorOf(await s.call(method, target, headers))
    expect(answer).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    // Nothing happened: a new stream was not created, the existing one is open and unchanged.
    const head = await s.call('HEAD', target, {})
    if (method === 'PUT') expect(head.status).toBe(404)
    else {
      expect(head.status).toBe(200)
      expect(head.headers.get('stream-closed')).toBeNull()
    }
  })

  it('lets a user who may publish create a plain JSON stream and append to it', async () => {
    expect((await s.call('PUT', 'room:plain', { 'content-type': 'application/json' })).status).toBe(
      201,
    )
    const append = await fetch(`${s.url}/v1/stream/room:plain`, {
      method: 'POST',
      headers: { authorization: 'Bearer mallory', 'content-type': 'application/json' },
      body: '{"text":"hi"}',
    })
    expect(append.status).toBe(204)
    const head = await s.call('HEAD', 'room:plain', {})
    expect(head.headers.get('stream-ttl')).toBeNull()
    expect(head.headers.get('stream-expires-at')).toBeNull()
  })
})

describe('managing streams with manage granted (F6)', () => {
  let s: Awaited<ReturnType<typeof start>>
  beforeAll(async () => {
    s = await start({ permissions: OPEN_PERMISSIONS })
    await s.call('PUT', 'room:existing', { 'content-type': 'application/json' })
  })
  afterAll(() => s?.server.close())

  it('allows each of them to a user granted manage', async () => {
    // Deleting and closing come last: the fork needs its source open.
    for (const [what, method, headers] of [...MANAGING].reverse()) {
      const target = targetOf(what, method, 'granted')
      const res = await s.call(method, target, headers)
      expect(res.status, what).toBeLessThan(300)
    }
  })
})
