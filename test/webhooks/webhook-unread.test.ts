import type { MsgFrame, PubackFrame } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js'
import { WEBHOOK_STREAM } from '../../packages/server/src/webhooks/stream-webhook-log.js'
import type { WebhookEvent } from '../../packages/server/src/webhooks/webhook-event.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { type GreetedClient, greet } from '../support/wire-session.js'
import { WEBHOOK_SECRET, deliveredOf, startWebhookReceiver } from './webhook-receiver.js'

// `unread` webhooks end to end through `seqline serve --webhook-url …` (needs `npm run build`):
// a user whose only client disconnected while another user's messages arrived is reported once
// the first of them is older than the unread delay — once per episode however many detector runs
// find it — and a user with a connected client is never reported.

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const STREAM = 'room:x'
/** Short, so that the test waits half a second for each episode. */
const UNREAD_DELAY_MS = 500

async function connect(server: ServerProcess, user: string): Promise<GreetedClient> {
  const greeted = await greet(server.wsUrl, { token: user })
  cleanups.push(() => greeted.client.close())
  return greeted
}

/** Subscribes from the start, waits for message `offset` and acks it. */
async function readAndAck({ client }: GreetedClient, offset: number): Promise<void> {
  client.send({ t: 'sub', stream: STREAM, from: 'earliest' })
  await client.next<MsgFrame>((f) => f.t === 'msg' && f.offset === offset)
  client.send({ t: 'ack', stream: STREAM, offset })
}

/**
 * Publishes `texts` with producer seqs from `seq` on, pipelined (committed back to back: the first
 * is not older than the unread delay before the last is in), and waits for every puback.
 */
async function publish({ client }: GreetedClient, seq: number, ...texts: string[]): Promise<void> {
  for (const [i, text] of texts.entries()) {
    client.send({ t: 'pub', stream: STREAM, epoch: 0, seq: seq + i, data: { text } })
  }
  for (const i of texts.keys()) {
    await client.next<PubackFrame>((f) => f.t === 'puback' && f.seq === seq + i)
  }
}

type UnreadEvent = Extract<WebhookEvent, { type: 'unread' }>

/** The `unread` events recorded in the server's webhook log (its SQLite file, read beside it). */
async function recordedUnread(server: ServerProcess): Promise<UnreadEvent[]> {
  const store = new SqliteStore({ path: server.dbPath })
  await store.init()
  try {
    const messages = await store.read(WEBHOOK_STREAM, 0, 10_000)
    return messages
      .map((m) => JSON.parse(Buffer.from(m.data).toString('utf8')) as WebhookEvent)
      .filter((e): e is UnreadEvent => e.type === 'unread')
  } finally {
    await store.close()
  }
}

describe('seqline serve --webhook-url: unread', () => {
  it('reports an offline user once per episode and never a connected one', async () => {
    const receiver = await startWebhookReceiver()
    cleanups.push(() => receiver.close())
    const server = await startServerProcess({
      args: ['--webhook-url', receiver.url, '--webhook-unread-delay-ms', String(UNREAD_DELAY_MS)],
      env: { SEQLINE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    })
    cleanups.push(() => server.dispose())
    const unreadOf = (user: string) =>
      deliveredOf(receiver, 'unread').filter((e) => e.data.user === user)

    const bob = await connect(server, 'bob')
    await publish(bob, 0, 'one')
    // Alice, carol and dave each read message 1 on their one client.
    const alice = await connect(server, 'alice')
    const carol = await connect(server, 'carol')
    const dave = await connect(server, 'dave')
    for (const reader of [alice, carol, dave]) await readAndAck(reader, 1)

    // Alice leaves; bob goes on talking.
    await alice.client.close()
    await publish(bob, 1, 'two', 'three')
    await receiver.until(() => unreadOf('alice').length > 0)
    expect(unreadOf('alice').map((e) => e.data)).toMatchObject([
      { user: 'alice', stream: STREAM, firstUnreadOffset: 2, unread: 2 },
    ])

    // A new message while alice stays away is the same episode. Dave leaves too: his episode
    // comes only once he has been away for the delay — several detector runs that each find
    // alice's episode again.
    await publish(bob, 3, 'four')
    await dave.client.close()
    await receiver.until(() => unreadOf('dave').length > 0)
    expect(unreadOf('dave').map((e) => e.data)).toMatchObject([
      { user: 'dave', stream: STREAM, firstUnreadOffset: 2, unread: 3 },
    ])

    // Recorded once each — no repeat of alice's, nothing for carol, connected all along with
    // three unacked messages, nor for bob, whose messages are his own.
    const recorded = await recordedUnread(server)
    expect(recorded.map((e) => e.data.user)).toEqual(['alice', 'dave'])
    expect(recorded).toEqual([...unreadOf('alice'), ...unreadOf('dave')])
    expect(receiver.attempts.filter((a) => a.event.type === 'unread')).toHaveLength(2)
    expect(carol.client.frames.filter((f) => f.t === 'msg')).toHaveLength(4)
  })
})
