import type { MsgFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../packages/server/src/store/postgres-store.js'
import { publishInTransaction } from '../../packages/server/src/store/publish-in-transaction.js'
import { waitUntil, watchFrames } from '../support/frame-watch.js'
import { runPsql } from '../support/psql.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  NEEDS_POSTGRES,
  NEEDS_POSTGRES_AND_REDIS,
  POSTGRES_URL,
  REDIS_URL,
  type TestDatabase,
  createTestDatabase,
  uniqueName,
  withClient,
} from '../support/services.js'
import { greet, publishMany, range, subscribeUntilCaughtUp } from '../support/wire-session.js'

// `seqline_publish` from outside any node, with real `seqline serve` processes listening: what an
// application's transaction commits reaches WebSocket subscribers of every node, at COMMIT on the
// PostgreSQL bus, at the next heal round on another bus. Needs `npm run build`.

const SCHEMA = 'seqline_app'

/** `seqline serve` on `db` (in schema `seqline_app`) with these bus flags. */
function serve(db: TestDatabase, bus: readonly string[]): Promise<ServerProcess> {
  return startServerProcess({
    args: ['--store', `${db.url}?schema=${SCHEMA}`, ...bus, '--auth', 'dev'],
  })
}

describe.skipIf(POSTGRES_URL === undefined)(
  `seqline_publish with nodes on the PostgreSQL bus${NEEDS_POSTGRES}`,
  () => {
    let db: TestDatabase
    const nodes: ServerProcess[] = []
    const fn = `"${SCHEMA}".seqline_publish`

    beforeAll(async () => {
      db = await createTestDatabase()
      // No heal rounds during the run: only the NOTIFY of the commit can deliver it. The channel
      // is not the default one: seqline_publish finds it where the nodes' bus recorded it.
      const bus = ['--bus', 'postgres', '--bus-channel', uniqueName('c')]
      const args = [...bus, '--heal-interval-ms', '600000']
      // One after the other: the first one migrates.
      for (let i = 0; i < 2; i++) nodes.push(await serve(db, args))
    })

    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.dispose()))
      await db?.drop()
    })

    it('delivers a commit made with psql to the WebSocket subscribers of every node', async () => {
      const subscribers = await Promise.all(
        nodes.map(async (node) => {
          const { client } = await greet(node.wsUrl, { token: 'alice' })
          await subscribeUntilCaughtUp(client, 'room:sql', 'latest')
          return client
        }),
      )
      const run = await runPsql(
        db.url,
        `BEGIN; SELECT ${fn}('room:sql', '{"from": "psql"}'); COMMIT;`,
      )
      expect(run).toMatchObject({ code: 0, stderr: '' })
      for (const client of subscribers) {
        const msg = await client.next<MsgFrame>('msg', 10_000)
        expect(msg).toMatchObject({ stream: 'room:sql', offset: 1, data: { from: 'psql' } })
        client.destroy()
      }
    })

    it('delivers nothing of a transaction that rolls back', async () => {
      const { client } = await greet(nodes[1]?.wsUrl ?? '', { token: 'bob' })
      const { caughtUp } = await subscribeUntilCaughtUp(client, 'room:undo', 'latest')
      const run = await runPsql(
        db.url,
        `BEGIN; SELECT ${fn}('room:undo', '"rolled back"'); ROLLBACK;
         BEGIN; SELECT ${fn}('room:undo', '"committed"'); COMMIT;`,
      )
      expect(run.code).toBe(0)
      const msg = await client.next<MsgFrame>('msg', 10_000)
      expect(msg).toMatchObject({ offset: caughtUp.head + 1, data: 'committed' })
      client.destroy()
    })

    it('keeps offsets gapless and unique while SQL and WebSocket publishers on two nodes write one stream', async () => {
      const stream = 'room:mix'
      const [a, b] = nodes as [ServerProcess, ServerProcess]
      const { client: reader } = await greet(b.wsUrl, { token: 'reader' })
      await subscribeUntilCaughtUp(reader, stream, 'earliest')
      const delivered: number[] = []
      watchFrames(reader, (f) => f.t === 'msg' && f.stream === stream && delivered.push(f.offset))

      const perSource = { ws: 150, psql: 100, pg: 100 }
      const ws = [a, b].map(async (node, n) => {
        const { client } = await greet(node.wsUrl, { token: `writer-${n}` })
        const replies = await publishMany(client, {
          stream,
          epoch: 1,
          seqs: range(0, perSource.ws),
          data: (i) => ({ src: `ws${n}`, i }),
          window: 8,
        })
        client.destroy()
        expect(replies.every((r) => r.t === 'puback')).toBe(true)
      })
      const script = range(0, perSource.psql)
        .map((i) => `BEGIN; SELECT ${fn}('${stream}', '{"src": "psql", "i": ${i}}'); COMMIT;`)
        .join('\n')
      const psql = runPsql(db.url, script).then((run) => expect(run.code).toBe(0))
      // Applications on node-postgres, through the Node helper (the same SQL function).
      const pgClients = [0, 1].map((n) =>
        withClient(db.url, async (c) => {
          for (let i = 0; i < perSource.pg; i++) {
            await c.query('BEGIN')
            await publishInTransaction(c, stream, { src: `pg${n}`, i }, { schema: SCHEMA })
            await c.query('COMMIT')
          }
        }),
      )
      await Promise.all([...ws, psql, ...pgClients])

      const total = 2 * perSource.ws + perSource.psql + 2 * perSource.pg
      const store = new PostgresStore({
        connectionString: db.url,
        schema: SCHEMA,
        migrate: false,
        poolSize: 1,
      })
      await store.init()
      try {
        const messages = await store.read(stream, 0, total + 10)
        expect(messages.map((m) => m.offset)).toEqual(range(1, total))
        const sources = new Map<string, number[]>()
        for (const m of messages) {
          const { src, i } = JSON.parse(new TextDecoder().decode(m.data)) as {
            src: string
            i: number
          }
          sources.set(src, [...(sources.get(src) ?? []), i])
        }
        // Every publish exactly once, each source's in the order it published them.
        expect(Object.fromEntries(sources)).toEqual({
          ws0: range(0, perSource.ws),
          ws1: range(0, perSource.ws),
          psql: range(0, perSource.psql),
          pg0: range(0, perSource.pg),
          pg1: range(0, perSource.pg),
        })
      } finally {
        await store.close()
      }
      // The subscriber of node B saw all of it, once, in order.
      await waitUntil(reader, () => delivered.length >= total, {
        what: `${total} messages`,
        timeoutMs: 30_000,
      })
      expect(delivered).toEqual(range(1, total))
      reader.destroy()
    }, 120_000)
  },
)

describe.skipIf(POSTGRES_URL === undefined || REDIS_URL === undefined)(
  `seqline_publish with nodes on the Redis bus${NEEDS_POSTGRES_AND_REDIS}`,
  () => {
    let db: TestDatabase
    let node: ServerProcess | undefined

    beforeAll(async () => {
      db = await createTestDatabase()
      const bus = ['--bus', REDIS_URL ?? '', '--bus-channel', uniqueName('c')]
      node = await serve(db, [...bus, '--heal-interval-ms', '200'])
    })

    afterAll(async () => {
      await node?.dispose()
      await db?.drop()
    })

    it('delivers a commit made with psql at the next heal round', async () => {
      const { client } = await greet(node?.wsUrl ?? '', { token: 'alice' })
      await subscribeUntilCaughtUp(client, 'room:sql', 'latest')
      const run = await runPsql(db.url, `SELECT "${SCHEMA}".seqline_publish('room:sql', '7');`)
      expect(run.code).toBe(0)
      expect(await client.next<MsgFrame>('msg', 10_000)).toMatchObject({ offset: 1, data: 7 })
      client.destroy()
    })
  },
)
