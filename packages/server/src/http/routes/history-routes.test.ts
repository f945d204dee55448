import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type SeqlineServer, createServer } from '../../server.js'

let server: SeqlineServer
let url: string

beforeEach(async () => {
  server = await createServer({
    store: 'memory:',
    auth: 'dev',
    logLevel: 'silent',
    authorize: (user, stream) => stream !== 'room:secret' || user === 'alice',
  })
  const { port } = await server.listen(0, '127.0.0.1')
  url = `http://127.0.0.1:${port}`
})

afterEach(async () => {
  await server.close()
})

// The bodies are checked field by field below; `any` keeps those checks short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any

async function get(path: string, token = 'alice'): Promise<{ status: number; body: Body }> {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json() }
}

/** Registers a client of `user` and acks `offset` of room:a as that client (its secret proves it). */
async function registerAndAck(user: string, offset: number): Promise<{ clientId: string }> {
  const auth = { authorization: `Bearer ${user}` }
  const created = await fetch(`${url}/v1/clients`, { method: 'POST', headers: auth })
  const { clientId, secret } = (await created.json()) as { clientId: string; secret: string }
  const ack = await fetch(`${url}/v1/clients/${clientId}/acks`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'seqline-client-secret': secret },
    body: JSON.stringify({ stream: 'room:a', offset }),
  })
  expect(ack.status).toBe(204)
  return { clientId }
}

async function publishMany(stream: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i += 1) await server.publish(stream, { n: i })
}

describe('GET /v1/history/<stream>', () => {
  it('returns the latest page with envelopes, epoch, head and tail', async () => {
    await publishMany('room:a', 5)
    const { status, body } = await get('/v1/history/room:a?limit=3')
    expect(status).toBe(200)
    expect(body).toMatchObject({ stream: 'room:a', head: 5, tail: 1 })
    expect(typeof body.epoch).toBe('string')
    expect(body.messages.map((m: { offset: number }) => m.offset)).toEqual([3, 4, 5])
    expect(body.messages[0]).toMatchObject({ offset: 3, from: null, data: { n: 3 } })
    expect(typeof body.messages[0].ts).toBe('number')
  })

  it('pages backwards with before', async () => {
    await publishMany('room:a', 5)
    const page = await get('/v1/history/room:a?before=3&limit=10')
    expect(page.body.messages.map((m: { offset: number }) => m.offset)).toEqual([1, 2])
    const empty = await get('/v1/history/room:a?before=1')
    expect(empty.body.messages).toEqual([])
  })

  it('reads a stream that does not exist as empty', async () => {
    const { status, body } = await get('/v1/history/room:none')
    expect(status).toBe(200)
    expect(body).toEqual({ stream: 'room:none', epoch: null, head: 0, tail: 1, messages: [] })
  })

  it('refuses a missing token, a forbidden stream and a bad parameter', async () => {
    const anonymous = await fetch(`${url}/v1/history/room:a`)
    expect(anonymous.status).toBe(401)
    expect((await get('/v1/history/room:secret', 'bob')).status).toBe(403)
    expect((await get('/v1/history/room:a?limit=0')).body.error.code).toBe('BAD_REQUEST')
  })
})

describe('GET /v1/cursors/<stream>', () => {
  it('lists each client acked offset with its user', async () => {
    await publishMany('room:a', 3)
    const a = await registerAndAck('alice', 3)
    await registerAndAck('bob', 1)
    const { status, body } = await get('/v1/cursors/room:a')
    expect(status).toBe(200)
    expect(body.head).toBe(3)
    const byUser = Object.fromEntries(
      body.cursors.map((c: { user: string; offset: number }) => [c.user, c.offset]),
    )
    expect(byUser).toEqual({ alice: 3, bob: 1 })
    expect(JSON.stringify(body)).not.toContain(a.clientId)
  })
})
