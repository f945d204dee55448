import { afterEach, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestDatabase,
  createTestDatabase,
  uniqueName,
} from '../support/services.js'
import {
  WEBHOOK_SECRET,
  type WebhookReceiver,
  deliveredOf,
  startWebhookReceiver,
} from './webhook-receiver.js'

// Two `seqline serve` nodes on one PostgreSQL store and bus, both with webhooks (needs `npm run
// build`). Both record events in the one log; only the holder of the `webhooks` lease delivers
// them, so each reaches the receiver once. When that node is killed (-9), the other takes the
// lease once it expires and delivers from the saved cursor: nothing is lost.

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Short, so that a takeover comes within a couple of seconds. */
const SHORT_LEASE_TTL_MS = 1_500

describe.skipIf(POSTGRES_URL === undefined)(
  `webhooks on two seqline serve nodes${NEEDS_POSTGRES}`,
  () => {
    async function startNodes(
      receiver: WebhookReceiver,
      leaseTtlMs: number,
    ): Promise<[ServerProcess, ServerProcess]> {
      const db: TestDatabase = await createTestDatabase()
      cleanups.push(() => db.drop())
      const args = [
        '--store',
        db.url,
        '--bus',
        'postgres',
        '--bus-channel',
        uniqueName('hooks'),
        '--auth',
        'dev',
        '--webhook-url',
        receiver.url,
        '--webhook-lease-ttl-ms',
        String(leaseTtlMs),
        '--webhook-retry-max-delay-ms',
        '100',
      ]
      const env = { SEQLINE_WEBHOOK_SECRET: WEBHOOK_SECRET }
      // One after the other: the first one migrates the database, and takes the lease.
      const first = await startServerProcess({ args, env })
      cleanups.push(() => first.dispose())
      const second = await startServerProcess({ args, env })
      cleanups.push(() => second.dispose())
      return [first, second]
    }

    /** Registers a client of `user` on `node` (a `client.registered` event); resolves its id. */
    async function register(node: ServerProcess, user: string): Promise<string> {
      const res = await fetch(`${node.url}/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user}` },
      })
      expect(res.status).toBe(201)
      return ((await res.json()) as { clientId: string }).clientId
    }

    function registeredIds(receiver: WebhookReceiver): string[] {
      return deliveredOf(receiver, 'client.registered')
        .map((e) => e.data.clientId)
        .sort()
    }

    /** Whether `node` logged `msg` (its JSON log lines). */
    function logged(node: ServerProcess, msg: string): boolean {
      return node.logs.some((line) => line.startsWith('{') && line.includes(`"msg":"${msg}"`))
    }

    it('delivers the events of both nodes from one of them, each once', async () => {
      const receiver = await startWebhookReceiver()
      cleanups.push(() => receiver.close())
      // The default TTL: however loaded the machine, the first node keeps the lease.
      const [a, b] = await startNodes(receiver, 15_000)
      expect(logged(a, 'webhooks on: this node delivers')).toBe(true)
      expect(logged(b, 'webhooks on: another node delivers')).toBe(true)

      const ids: string[] = []
      for (const [i, node] of [a, b, a, b, a, b].entries()) ids.push(await register(node, `u${i}`))
      await receiver.until(() => registeredIds(receiver).length === ids.length)
      expect(registeredIds(receiver)).toEqual([...ids].sort())
      // One attempt per event: no other node sent any of them again.
      expect(receiver.attempts.map((a) => a.event.id).sort()).toEqual(
        [...receiver.delivered.keys()].sort(),
      )
    })

    it('hands delivery over when the delivering node is killed, losing nothing', async () => {
      // Refused at first: the events stay undelivered in the log while their holder dies.
      const receiver = await startWebhookReceiver(503)
      cleanups.push(() => receiver.close())
      const [a, b] = await startNodes(receiver, SHORT_LEASE_TTL_MS)
      expect(logged(a, 'webhooks on: this node delivers')).toBe(true)

      const before: string[] = []
      for (const [i, node] of [a, b, a, b].entries()) before.push(await register(node, `u${i}`))
      const attempted = (): Set<string> =>
        new Set(
          receiver.attempts.map((x) => (x.event.data as { clientId?: string }).clientId ?? ''),
        )
      await receiver.until(() => before.every((id) => attempted().has(id)))
      await a.kill9()

      receiver.status = 204
      // Events of the surviving node while nobody delivers: kept in the log for the next holder.
      const after = [await register(b, 'v1'), await register(b, 'v2')]
      await receiver.until(() => registeredIds(receiver).length === before.length + after.length)
      expect(registeredIds(receiver)).toEqual([...before, ...after].sort())
      expect(logged(b, 'lease taken: this node runs its job')).toBe(true)
      // Each event, whoever delivered it, always under its one id.
      for (const attempt of receiver.attempts) {
        expect(attempt.event).toEqual(receiver.delivered.get(attempt.event.id))
      }
    })
  },
)
