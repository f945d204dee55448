import { CloseCode, type ErrorFrame } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { subscribeUntilCaughtUp, greet } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'
import {
  BILLING_KEY,
  type BackendApiServer,
  CRM_KEY,
  startBackendApiServer,
} from './backend-api-server.js'

// The backend HTTP API against a real server on 127.0.0.1: what a .NET or Python backend does
// with an API key — publish (idempotently, in batches), delete streams, disconnect and revoke
// users, read presence — and what its users' WebSocket connections see when it does.

// The bodies are checked field by field below; `any` keeps those checks short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function start(options?: Parameters<typeof startBackendApiServer>[0]) {
  const s = await startBackendApiServer(options)
  cleanups.push(() => s.close())
  return s
}

async function connect(s: BackendApiServer, user: string): Promise<RawClient> {
  const { client } = await greet(s.wsUrl, { token: user })
  cleanups.push(async () => client.destroy())
  return client
}

async function post(s: BackendApiServer, path: string, body: unknown, key?: string) {
  const res = await s.api(path, {
    method: 'POST',
    body: JSON.stringify(body),
    ...(key === undefined ? {} : { key }),
  })
  return { status: res.status, body: (await res.json()) as Body }
}

describe('POST /v1/api/publish/<stream>', () => {
  it('publishes as the server and delivers to subscribers', async () => {
    const s = await start()
    const alice = await connect(s, 'alice')
    await subscribeUntilCaughtUp(alice, 'room:a', 'latest')
    const { status, body } = await post(s, '/v1/api/publish/room:a', { data: { text: 'hi' } })
    expect(status).toBe(201)
    expect(body).toMatchObject({ stream: 'room:a', offset: 1, duplicate: false })
    expect(typeof body.epoch).toBe('string')
    const msg = await alice.next('msg')
    expect(msg).toMatchObject({ stream: 'room:a', offset: 1, from: null, data: { text: 'hi' } })
  })

  it('answers a retry with the same idempotency key with the first offset and duplicate: true', async () => {
    const s = await start()
    const first = await post(s, '/v1/api/publish/room:a', { data: 1, idempotencyKey: 'order-42' })
    await post(s, '/v1/api/publish/room:a', { data: 2 })
    const retry = await post(s, '/v1/api/publish/room:a', { data: 1, idempotencyKey: 'order-42' })
    expect(first).toMatchObject({ status: 201, body: { offset: 1, duplicate: false } })
    expect(retry).toMatchObject({
      status: 200,
      body: { offset: 1, duplicate: true, epoch: first.body.epoch },
    })
    const history = await fetch(`${s.url}/v1/history/room:a`, {
      headers: { authorization: 'Bearer alice' },
    })
    const { messages } = (await history.json()) as Body
    expect(messages.map((m: { data: unknown }) => m.data)).toEqual([1, 2])
  })

  it('scopes idempotency keys to the API key, so two backends never collide', async () => {
    const s = await start()
    const billing = await post(s, '/v1/api/publish/room:a', { data: 'b', idempotencyKey: 'k-1' })
    const crm = await post(
      s,
      '/v1/api/publish/room:a',
      { data: 'c', idempotencyKey: 'k-1' },
      CRM_KEY,
    )
    expect(billing.body).toMatchObject({ offset: 1, duplicate: false })
    expect(crm.body).toMatchObject({ offset: 2, duplicate: false })
  })

  it('refuses a malformed idempotency key, a missing data field and an oversized payload', async () => {
    const s = await start()
    const long = await post(s, '/v1/api/publish/room:a', {
      data: 1,
      idempotencyKey: 'k'.repeat(129),
    })
    expect(long).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } })
    const spaced = await post(s, '/v1/api/publish/room:a', { data: 1, idempotencyKey: 'a b' })
    expect(spaced.body.error.code).toBe('BAD_REQUEST')
    const missing = await post(s, '/v1/api/publish/room:a', { text: 'no data field' })
    expect(missing.body.error.code).toBe('BAD_REQUEST')
    const big = await post(s, '/v1/api/publish/room:a', { data: 'x'.repeat(70_000) })
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } })
    const notJson = await s.api('/v1/api/publish/room:a', { method: 'POST', body: '{"data":' })
    expect(notJson.status).toBe(400)
    const badName = await post(s, '/v1/api/publish/%24webhooks', { data: 1 })
    expect(badName.body.error.code).toBe('INVALID_STREAM_NAME')
  })
})

describe('POST /v1/api/batch', () => {
  it('publishes to several streams in one group commit with a result per message', async () => {
    const s = await start()
    await post(s, '/v1/api/publish/room:b', { data: 0, idempotencyKey: 'seen' })
    const before = await commitCount(s)
    const { status, body } = await post(s, '/v1/api/batch', {
      messages: [
        { stream: 'room:a', data: 'a1' },
        { stream: 'room:b', data: 'b1' },
        { stream: 'room:a', data: 'a2', idempotencyKey: 'a2' },
        { stream: 'not a name', data: 'x' },
        { stream: 'room:b', data: 0, idempotencyKey: 'seen' },
        { stream: 'room:a', data: 'a2', idempotencyKey: 'a2' },
      ],
    })
    expect(status).toBe(200)
    expect(body.results).toEqual([
      expect.objectContaining({ stream: 'room:a', offset: 1, duplicate: false }),
      expect.objectContaining({ stream: 'room:b', offset: 2, duplicate: false }),
      expect.objectContaining({ stream: 'room:a', offset: 2, duplicate: false }),
      { error: { code: 'INVALID_STREAM_NAME', message: 'Invalid stream name' } },
      expect.objectContaining({ stream: 'room:b', offset: 1, duplicate: true }),
      expect.objectContaining({ stream: 'room:a', offset: 2, duplicate: true }),
    ])
    expect(await commitCount(s)).toBe(before + 1)
  })

  it('refuses a batch that is empty, too long or not a list', async () => {
    const s = await start()
    expect((await post(s, '/v1/api/batch', { messages: [] })).status).toBe(400)
    expect((await post(s, '/v1/api/batch', { messages: {} })).status).toBe(400)
    const tooMany = Array.from({ length: 1_001 }, () => ({ stream: 'room:a', data: 1 }))
    const long = await post(s, '/v1/api/batch', { messages: tooMany })
    expect(long).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } })
  })
})

describe('DELETE /v1/api/streams/<stream>', () => {
  it('deletes the stream and ends its WebSocket subscriptions with STREAM_NOT_FOUND', async () => {
    const s = await start()
    await post(s, '/v1/api/publish/room:gone', { data: 1 })
    const alice = await connect(s, 'alice')
    await subscribeUntilCaughtUp(alice, 'room:gone', 'earliest')
    const res = await s.api('/v1/api/streams/room:gone', { method: 'DELETE' })
    expect(res.status).toBe(204)
    const error = await alice.next<ErrorFrame>('error')
    expect(error).toMatchObject({ stream: 'room:gone', code: 'STREAM_NOT_FOUND' })
    const again = await s.api('/v1/api/streams/room:gone', { method: 'DELETE' })
    expect(again.status).toBe(404)
    expect(((await again.json()) as Body).error.code).toBe('STREAM_NOT_FOUND')
  })
})

describe('POST /v1/api/users/<user>/disconnect', () => {
  it('closes every connection of the user with REVOKED (4403) and leaves others open', async () => {
    const s = await start()
    const phone = await connect(s, 'alice')
    const laptop = await connect(s, 'alice')
    const bob = await connect(s, 'bob')
    const { body } = await post(s, '/v1/api/users/alice/disconnect', {})
    expect(body).toEqual({ user: 'alice', reconnect: false, connectionsOnThisNode: 2 })
    for (const client of [phone, laptop]) {
      expect(await client.closed).toMatchObject({ code: CloseCode.REVOKED })
      expect(client.frames).toContainEqual(expect.objectContaining({ code: 'CLIENT_REVOKED' }))
    }
    bob.send({ t: 'ping' })
    expect(await bob.next('pong')).toEqual({ t: 'pong' })
  })

  it('closes with GOING_AWAY (1001) when the user may reconnect', async () => {
    const s = await start()
    const alice = await connect(s, 'alice')
    const { body } = await post(s, '/v1/api/users/alice/disconnect', { reconnect: true })
    expect(body.connectionsOnThisNode).toBe(1)
    expect(await alice.closed).toMatchObject({ code: CloseCode.GOING_AWAY })
  })

  it('refuses a user id outside the user-id pattern and a reconnect that is not a boolean', async () => {
    const s = await start()
    const bad = await post(s, `/v1/api/users/${encodeURIComponent('a b')}/disconnect`, {})
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } })
    const flag = await post(s, '/v1/api/users/alice/disconnect', { reconnect: 'yes' })
    expect(flag.status).toBe(400)
  })
})

describe('POST /v1/api/users/<user>/revoke', () => {
  it('ends a live subscription with FORBIDDEN once authorize says no', async () => {
    const members = new Set(['alice'])
    const s = await start({
      authorize: (user, stream) => !stream.startsWith('team:') || members.has(user),
    })
    const alice = await connect(s, 'alice')
    await subscribeUntilCaughtUp(alice, 'team:x', 'latest')
    await subscribeUntilCaughtUp(alice, 'room:open', 'latest')
    members.delete('alice')
    const { status, body } = await post(s, '/v1/api/users/alice/revoke', {})
    expect(status).toBe(202)
    expect(body).toEqual({ user: 'alice', stream: null })
    const error = await alice.next<ErrorFrame>('error')
    expect(error).toMatchObject({ stream: 'team:x', code: 'FORBIDDEN' })
    // The subscription the user may still read goes on.
    await post(s, '/v1/api/publish/room:open', { data: 'still here' })
    expect(await alice.next('msg')).toMatchObject({ stream: 'room:open', data: 'still here' })
  })

  it('re-checks only the named stream when one is given', async () => {
    let allowed = true
    const s = await start({ authorize: () => allowed })
    const alice = await connect(s, 'alice')
    await subscribeUntilCaughtUp(alice, 'room:a', 'latest')
    await subscribeUntilCaughtUp(alice, 'room:b', 'latest')
    allowed = false
    await post(s, '/v1/api/users/alice/revoke', { stream: 'room:b' })
    expect(await alice.next<ErrorFrame>('error')).toMatchObject({ stream: 'room:b' })
    allowed = true
    await post(s, '/v1/api/publish/room:a', { data: 'a' })
    expect(await alice.next('msg')).toMatchObject({ stream: 'room:a' })
  })
})

describe('GET /v1/api/presence/<stream>', () => {
  it('lists connected users one page at a time', async () => {
    const s = await start()
    for (const user of ['carol', 'alice', 'bob']) {
      await subscribeUntilCaughtUp(await connect(s, user), 'room:p', 'latest')
    }
    const first = (await (await s.api('/v1/api/presence/room:p?limit=2')).json()) as Body
    expect(first).toMatchObject({
      stream: 'room:p',
      mode: 'on',
      count: { users: 3, clients: 3 },
      next: 'bob',
    })
    expect(first.users.map((u: { user: string }) => u.user)).toEqual(['alice', 'bob'])
    const second = (await (await s.api('/v1/api/presence/room:p?limit=2&after=bob')).json()) as Body
    expect(second.users.map((u: { user: string }) => u.user)).toEqual(['carol'])
    expect(second.next).toBeUndefined()
    expect((await s.api('/v1/api/presence/room:p?limit=0')).status).toBe(400)
  })
})

describe('API keys', () => {
  it('answers 401 without a key, with a wrong key and with a user token', async () => {
    const s = await start()
    for (const key of [null, 'not-a-key', `${BILLING_KEY}x`, 'alice']) {
      const res = await s.api('/v1/api/publish/room:a', {
        method: 'POST',
        body: '{"data":1}',
        key,
      })
      expect(res.status).toBe(401)
      expect(((await res.json()) as Body).error.code).toBe('UNAUTHENTICATED')
    }
    expect((await s.api('/v1/api/presence/room:a', { key: null })).status).toBe(401)
  })

  it('answers 401 to every call when no key is configured', async () => {
    const s = await start({ keys: false })
    const res = await s.api('/v1/api/streams/room:a', { method: 'DELETE' })
    expect(res.status).toBe(401)
  })

  it('logs every call with the id of its key and never the key', async () => {
    const s = await start()
    await post(s, '/v1/api/publish/room:a', { data: 1 })
    await post(s, '/v1/api/users/alice/revoke', { stream: 'room:a' }, CRM_KEY)
    const calls = s.logs.filter((line) => line.msg === 'backend API call')
    expect(calls).toEqual([
      expect.objectContaining({ keyId: 'billing', call: 'publish', stream: 'room:a', status: 201 }),
      expect.objectContaining({ keyId: 'crm', call: 'revoke', user: 'alice', status: 202 }),
    ])
    expect(s.logText()).not.toContain(BILLING_KEY)
    expect(s.logText()).not.toContain(CRM_KEY)
  })
})

/** How many group commits the server made (the commit batch size histogram's count). */
async function commitCount(s: BackendApiServer): Promise<number> {
  const metric = await s.server.metrics.registry.getSingleMetric('seqline_commit_batch_size')?.get()
  const count = metric?.values.find(
    (v) => (v as { metricName?: string }).metricName === 'seqline_commit_batch_size_count',
  )
  return count?.value ?? 0
}
