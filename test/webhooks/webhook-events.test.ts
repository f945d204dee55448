import type { ErrorFrame } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { allowAll } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js'
import { greet } from '../support/wire-session.js'
import { createTempDir } from '../support/temp-dir.js'
import {
  WEBHOOK_SECRET,
  type WebhookReceiver,
  deliveredOf,
  startWebhookReceiver,
} from './webhook-receiver.js'

// Webhooks of a running server (in-process, SQLite): the engine records clients registered and
// forgotten and streams deleted in its internal `$webhooks` stream, and the dispatcher delivers
// them, signed, to the receiver. The internal stream is out of every user's reach.

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Started {
  readonly server: SeqlineServer
  readonly store: SqliteStore
  readonly url: string
  readonly wsUrl: string
  readonly receiver: WebhookReceiver
}

async function start(): Promise<Started> {
  const receiver = await startWebhookReceiver()
  cleanups.push(() => receiver.close())
  const dir = await createTempDir()
  cleanups.push(() => dir.remove())
  const store = new SqliteStore({ path: dir.join('seqline.db') })
  const server = await createServer({
    store,
    auth: 'dev',
    authorize: allowAll,
    logLevel: 'silent',
    expiry: { intervalMs: 20 },
    webhooks: { url: receiver.url, retryInitialDelayMs: 5, retryMaxDelayMs: 50 },
    webhookSecret: WEBHOOK_SECRET,
  })
  cleanups.push(() => server.close())
  const { port } = await server.listen(0, '127.0.0.1')
  return {
    server,
    store,
    receiver,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
  }
}

describe('webhook events of a server', () => {
  it('delivers client.registered and client.forgotten, signed, with the id in a header', async () => {
    const { url, receiver } = await start()
    const auth = { authorization: 'Bearer alice' }
    const created = await fetch(`${url}/v1/clients`, { method: 'POST', headers: auth })
    const { clientId } = (await created.json()) as { clientId: string }
    const forgotten = await fetch(`${url}/v1/clients/${clientId}`, {
      method: 'DELETE',
      headers: auth,
    })
    expect(forgotten.status).toBe(204)
    await receiver.until(() => deliveredOf(receiver, 'client.forgotten').length === 1)
    expect(deliveredOf(receiver, 'client.registered').map((e) => e.data)).toEqual([
      { user: 'alice', clientId },
    ])
    expect(deliveredOf(receiver, 'client.forgotten').map((e) => e.data)).toEqual([
      { user: 'alice', clientId, reason: 'forgotten' },
    ])
    for (const attempt of receiver.attempts) {
      expect(attempt.signed).toBe(true)
      expect(attempt.headerId).toBe(attempt.event.id)
      expect(attempt.event.id).toMatch(/^evt_[A-Za-z0-9_-]{22}$/)
    }
  })

  it('reports the client a WebSocket hello registers', async () => {
    const { wsUrl, receiver } = await start()
    const { client, welcome } = await greet(wsUrl, { token: 'bob' })
    cleanups.push(() => client.close())
    await receiver.until(() => deliveredOf(receiver, 'client.registered').length === 1)
    expect(deliveredOf(receiver, 'client.registered')[0]?.data).toEqual({
      user: 'bob',
      clientId: welcome.clientId,
    })
  })

  it('reports a deleted stream as deleted and an expired one as expired', async () => {
    const { server, store, receiver } = await start()
    await server.publish('room:old', { text: 'bye' })
    expect(await server.deleteStream('room:old')).toBe(true)
    expect(await server.deleteStream('room:old')).toBe(false)
    await store.createStream({
      name: 'room:ttl',
      contentType: 'application/json',
      expiresAt: Date.now() - 1,
      now: Date.now(),
    })
    await receiver.until(() => deliveredOf(receiver, 'stream.deleted').length === 2)
    expect(deliveredOf(receiver, 'stream.deleted').map((e) => e.data)).toEqual([
      { stream: 'room:old', reason: 'deleted' },
      { stream: 'room:ttl', reason: 'expired' },
    ])
  })

  it('keeps the internal stream out of reach of the HTTP and WebSocket doors', async () => {
    const { url, wsUrl, receiver, server } = await start()
    await server.publish('room:x', 1)
    await server.deleteStream('room:x')
    await receiver.until(() => receiver.delivered.size === 1)
    const auth = { authorization: 'Bearer alice' }
    for (const path of [
      '/v1/stream/%24webhooks',
      '/v1/stream/$webhooks',
      '/v1/history/%24webhooks',
      '/v1/cursors/%24webhooks',
      '/v1/presence/%24webhooks',
    ]) {
      const res = await fetch(url + path, { headers: auth })
      expect(res.status, path).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'INVALID_STREAM_NAME',
      )
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${url}/v1/stream/%24webhooks`, {
        method,
        headers: { ...auth, 'content-type': 'application/json' },
        body: method === 'DELETE' ? undefined : '[{"type":"forged"}]',
      })
      expect(res.status, method).toBe(400)
    }
    const { client } = await greet(wsUrl, { token: 'mallory' })
    cleanups.push(() => client.close())
    client.send({ t: 'sub', stream: '$webhooks', from: 'earliest' })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'INVALID_STREAM_NAME' })
    client.send({ t: 'pub', stream: '$webhooks', epoch: 0, seq: 0, data: { type: 'forged' } })
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'INVALID_STREAM_NAME' })
    await expect(server.publish('$webhooks', { type: 'forged' })).rejects.toMatchObject({
      code: 'INVALID_STREAM_NAME',
    })
    await expect(server.deleteStream('$webhooks')).rejects.toMatchObject({
      code: 'INVALID_STREAM_NAME',
    })
  })
})
