import { afterEach, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { BILLING_KEY } from '../backend/backend-api-server.js'
import { WEBHOOK_SECRET, type WebhookReceiver, startWebhookReceiver } from './webhook-receiver.js'

// Webhooks end to end through `seqline serve --webhook-url …` (needs `npm run build`): a client
// registered and forgotten and a stream deleted reach the receiver at least once each, with ids
// that do not change between attempts — also when the server is killed (SIGKILL, no shutdown
// code) after the events happened and before the receiver accepted them.

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serveWithWebhooks(receiver: WebhookReceiver): Promise<ServerProcess> {
  const server = await startServerProcess({
    args: ['--webhook-url', receiver.url],
    env: { SEQLINE_WEBHOOK_SECRET: WEBHOOK_SECRET, SEQLINE_API_KEYS: BILLING_KEY },
  })
  cleanups.push(() => server.dispose())
  return server
}

/** Registers and forgets a client of alice, publishes to and deletes room:gone. */
async function causeEvents(server: ServerProcess): Promise<string> {
  const user = { authorization: 'Bearer alice' }
  const backend = { authorization: `Bearer ${BILLING_KEY}`, 'content-type': 'application/json' }
  const created = await fetch(`${server.url}/v1/clients`, { method: 'POST', headers: user })
  const { clientId } = (await created.json()) as { clientId: string }
  const forgotten = await fetch(`${server.url}/v1/clients/${clientId}`, {
    method: 'DELETE',
    headers: user,
  })
  expect(forgotten.status).toBe(204)
  const published = await fetch(`${server.url}/v1/api/publish/room:gone`, {
    method: 'POST',
    headers: backend,
    body: JSON.stringify({ data: { text: 'last words' } }),
  })
  expect(published.status).toBe(201)
  const deleted = await fetch(`${server.url}/v1/api/streams/room:gone`, {
    method: 'DELETE',
    headers: backend,
  })
  expect(deleted.status).toBe(204)
  return clientId
}

function expectTheThreeEvents(receiver: WebhookReceiver, clientId: string): void {
  const byType = new Map([...receiver.delivered.values()].map((e) => [e.type, e.data]))
  expect(Object.fromEntries(byType)).toEqual({
    'client.registered': { user: 'alice', clientId },
    'client.forgotten': { user: 'alice', clientId, reason: 'forgotten' },
    'stream.deleted': { stream: 'room:gone', reason: 'deleted' },
  })
  for (const attempt of receiver.attempts) expect(attempt.signed).toBe(true)
}

describe('seqline serve --webhook-url', () => {
  it('delivers client.registered, client.forgotten and stream.deleted', async () => {
    const receiver = await startWebhookReceiver()
    cleanups.push(() => receiver.close())
    const server = await serveWithWebhooks(receiver)
    const clientId = await causeEvents(server)
    await receiver.until(() => receiver.delivered.size === 3)
    expectTheThreeEvents(receiver, clientId)
  })

  it('delivers the events after a kill -9 between the events and their delivery, with the same ids', async () => {
    const receiver = await startWebhookReceiver(503)
    cleanups.push(() => receiver.close())
    const server = await serveWithWebhooks(receiver)
    const clientId = await causeEvents(server)
    // Every event was attempted (and refused) at least once: its id is known before the kill.
    const attemptedIds = (): Set<string> => new Set(receiver.attempts.map((a) => a.event.id))
    await receiver.until(() => attemptedIds().size === 3)
    const idsBeforeKill = attemptedIds()
    await server.kill9()

    receiver.status = 204
    await server.restart()
    await receiver.until(() => receiver.delivered.size === 3)
    expect(new Set(receiver.delivered.keys())).toEqual(idsBeforeKill)
    expectTheThreeEvents(receiver, clientId)
    // Each id always carried the same event.
    for (const attempt of receiver.attempts) {
      expect(attempt.event).toEqual(receiver.delivered.get(attempt.event.id))
    }
  })
})
