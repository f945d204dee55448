import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'

// Seqline's own HTTP endpoints beside the Durable Streams ones (DESIGN §6): bad input gets a JSON
// error body `{error: {code, message}}` with a stable code and the matching status.

let s: InProcessServer
const as = (user: string) => ({ Authorization: `Bearer ${user}` })
const jsonAs = (user: string) => ({ ...as(user), 'Content-Type': 'application/json' })

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toContain('application/json')
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
}

let secrets = new Map<string, string>()

async function register(user: string): Promise<string> {
  const res = await fetch(`${s.url}/v1/clients`, { method: 'POST', headers: as(user) })
  expect(res.status).toBe(201)
  const { clientId, secret } = (await res.json()) as { clientId: string; secret: string }
  secrets.set(clientId, secret)
  return clientId
}

/** Headers of a request acting as client `id` of `user`: the token and the client's secret. */
const asClient = (user: string, id: string) => ({
  ...jsonAs(user),
  'Seqline-Client-Secret': secrets.get(id) ?? 'unknown',
})

beforeAll(async () => {
  secrets = new Map()
  s = await startInProcessServer({
    authorize: (user, stream) => stream !== 'room:staff' || user === 'alice',
  })
  const created = await fetch(`${s.url}/v1/stream/room:a`, {
    method: 'PUT',
    headers: jsonAs('alice'),
    body: '[1,2,3]',
  })
  expect(created.status).toBe(201)
})
afterAll(() => s?.close())

describe('POST /v1/clients', () => {
  it('registers a client of the token’s user and returns its id and secret once', async () => {
    const res = await fetch(`${s.url}/v1/clients`, { method: 'POST', headers: as('alice') })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({
      clientId: expect.any(String),
      secret: expect.any(String),
    })
  })

  it('refuses a request without a token with 401 UNAUTHENTICATED', async () => {
    await expectError(
      await fetch(`${s.url}/v1/clients`, { method: 'POST' }),
      401,
      'UNAUTHENTICATED',
    )
    const bad = await fetch(`${s.url}/v1/clients`, { method: 'POST', headers: as('no spaces!') })
    await expectError(bad, 401, 'UNAUTHENTICATED')
  })
})

describe('POST /v1/clients/:id/acks and GET /v1/clients/:id/cursors', () => {
  it('records an ack and reads it back as a cursor', async () => {
    const id = await register('alice')
    const ack = await fetch(`${s.url}/v1/clients/${id}/acks`, {
      method: 'POST',
      headers: asClient('alice', id),
      body: JSON.stringify({ stream: 'room:a', offset: 2 }),
    })
    expect(ack.status).toBe(204)
    const res = await fetch(`${s.url}/v1/clients/${id}/cursors`, { headers: as('alice') })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ cursors: [{ stream: 'room:a', offset: 2 }] })
  })

  it('answers bad input with stable codes', async () => {
    const id = await register('alice')
    const ack = (body: string, user = 'alice', client = id) =>
      fetch(`${s.url}/v1/clients/${client}/acks`, {
        method: 'POST',
        headers: { ...asClient(user, client), 'Seqline-Client-Secret': secrets.get(id) ?? '' },
        body,
      })
    await expectError(await ack('{not json'), 400, 'BAD_REQUEST')
    await expectError(await ack('[]'), 400, 'BAD_REQUEST')
    await expectError(await ack('{"stream":"bad name","offset":1}'), 400, 'INVALID_STREAM_NAME')
    await expectError(await ack('{"stream":"room:a","offset":-1}'), 400, 'BAD_REQUEST')
    await expectError(await ack('{"stream":"room:a","offset":1.5}'), 400, 'BAD_REQUEST')
    await expectError(await ack('{"stream":"room:a","offset":99}'), 400, 'BAD_REQUEST')
    await expectError(await ack('{"stream":"room:none","offset":0}'), 404, 'STREAM_NOT_FOUND')
    await expectError(
      await ack('{"stream":"room:staff","offset":0}', 'alice'),
      404,
      'STREAM_NOT_FOUND',
    )
    await expectError(
      await ack(JSON.stringify({ stream: 'room:a', offset: 1, pad: 'x'.repeat(70_000) })),
      413,
      'PAYLOAD_TOO_LARGE',
    )
    await expectError(
      await ack('{"stream":"room:a","offset":1}', 'alice', 'c_unknown'),
      404,
      'CLIENT_UNKNOWN',
    )
  })

  it('acks as a client only with its secret, like a WebSocket hello (G8)', async () => {
    const id = await register('alice')
    const post = (headers: Record<string, string>) =>
      fetch(`${s.url}/v1/clients/${id}/acks`, {
        method: 'POST',
        headers,
        body: '{"stream":"room:a","offset":1}',
      })
    await expectError(await post(jsonAs('alice')), 403, 'FORBIDDEN')
    await expectError(
      await post({ ...jsonAs('alice'), 'Seqline-Client-Secret': 'guessed' }),
      403,
      'FORBIDDEN',
    )
    expect((await post(asClient('alice', id))).status).toBe(204)
  })

  it('never lets one user ack for or read the cursors of another user’s client (G8)', async () => {
    const id = await register('alice')
    // Even with the client's secret: the token's user must own the client.
    const ack = await fetch(`${s.url}/v1/clients/${id}/acks`, {
      method: 'POST',
      headers: asClient('mallory', id),
      body: '{"stream":"room:a","offset":1}',
    })
    await expectError(ack, 403, 'FORBIDDEN')
    await expectError(
      await fetch(`${s.url}/v1/clients/${id}/cursors`, { headers: as('mallory') }),
      403,
      'FORBIDDEN',
    )
    await expectError(await fetch(`${s.url}/v1/clients/${id}/cursors`), 401, 'UNAUTHENTICATED')
    const del = await fetch(`${s.url}/v1/clients/${id}`, {
      method: 'DELETE',
      headers: as('mallory'),
    })
    await expectError(del, 403, 'FORBIDDEN')
  })

  it('refuses an ack on a stream the user may not read with 403 FORBIDDEN', async () => {
    const id = await register('bob')
    const ack = await fetch(`${s.url}/v1/clients/${id}/acks`, {
      method: 'POST',
      headers: asClient('bob', id),
      body: '{"stream":"room:staff","offset":0}',
    })
    await expectError(ack, 403, 'FORBIDDEN')
  })
})

describe('DELETE /v1/clients/:id', () => {
  it('forgets the user’s own client, after which it is unknown', async () => {
    const id = await register('alice')
    expect(
      (await fetch(`${s.url}/v1/clients/${id}`, { method: 'DELETE', headers: as('alice') })).status,
    ).toBe(204)
    await expectError(
      await fetch(`${s.url}/v1/clients/${id}/cursors`, { headers: as('alice') }),
      404,
      'CLIENT_UNKNOWN',
    )
  })
})

describe('GET /v1/presence/:stream', () => {
  it('answers the presence of a readable stream, 403 for another and 400 for a bad name', async () => {
    const res = await fetch(`${s.url}/v1/presence/room:a`, { headers: as('bob') })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      stream: 'room:a',
      mode: 'on',
      users: [],
      count: { users: 0, clients: 0 },
    })
    await expectError(
      await fetch(`${s.url}/v1/presence/room:staff`, { headers: as('bob') }),
      403,
      'FORBIDDEN',
    )
    await expectError(
      await fetch(`${s.url}/v1/presence/bad%20name`, { headers: as('bob') }),
      400,
      'INVALID_STREAM_NAME',
    )
    await expectError(await fetch(`${s.url}/v1/presence/room:a`), 401, 'UNAUTHENTICATED')
  })
})

describe('health, metrics and unknown routes', () => {
  it('serves /healthz and /metrics and answers 404 NOT_FOUND elsewhere', async () => {
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' })
    const metrics = await fetch(`${s.url}/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('# TYPE')
    await expectError(await fetch(`${s.url}/v1/nothing`), 404, 'NOT_FOUND')
  })
})
