import { afterEach, describe, expect, it } from 'vitest'
import { allowAll } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { NEEDS_POSTGRES, POSTGRES_URL, testSchema } from '../support/services.js'
import {
  WEBHOOK_SECRET,
  type WebhookReceiver,
  deliveredOf,
  startWebhookReceiver,
} from './webhook-receiver.js'

// Two nodes on one PostgreSQL store and bus, both with webhooks: each node records its own events
// in the one shared log, and the holder of the `webhooks` lease delivers them all — each under its
// one id, none lost. (Takeover by the other node: webhook-lease.test.ts.)

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe.skipIf(POSTGRES_URL === undefined)(`webhooks on two nodes${NEEDS_POSTGRES}`, () => {
  async function startNode(url: string, receiver: WebhookReceiver): Promise<SeqlineServer> {
    const server = await createServer({
      store: url,
      bus: 'postgres',
      busChannel: `webhooks_${process.pid}`,
      auth: 'dev',
      authorize: allowAll,
      logLevel: 'silent',
      webhooks: { url: receiver.url, retryInitialDelayMs: 5, retryMaxDelayMs: 50 },
      webhookSecret: WEBHOOK_SECRET,
    })
    cleanups.push(() => server.close())
    await server.listen(0, '127.0.0.1')
    return server
  }

  it('delivers every event of either node, each under one id', async () => {
    const receiver = await startWebhookReceiver()
    cleanups.push(() => receiver.close())
    const schema = testSchema()
    cleanups.push(() => schema.drop())
    const url = `${schema.url}?schema=${schema.name}`
    const a = await startNode(url, receiver)
    const b = await startNode(url, receiver)
    const streams = ['room:1', 'room:2', 'room:3', 'room:4']
    for (const [i, stream] of streams.entries()) {
      const node = i % 2 === 0 ? a : b
      await node.publish(stream, { i })
      await node.deleteStream(stream)
    }
    await receiver.until(() => deliveredOf(receiver, 'stream.deleted').length === 4)
    expect(
      deliveredOf(receiver, 'stream.deleted')
        .map((e) => e.data.stream)
        .sort(),
    ).toEqual(streams)
    // However often an id arrived, it always carried the same event.
    for (const attempt of receiver.attempts) {
      expect(attempt.event).toEqual(receiver.delivered.get(attempt.event.id))
    }
  })
})
