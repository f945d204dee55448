import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BusMessage } from '../../packages/server/src/bus/bus.js'
import { PostgresBus } from '../../packages/server/src/bus/postgres-bus.js'
import { PostgresStore } from '../../packages/server/src/store/postgres-store.js'
import { publishInTransaction } from '../../packages/server/src/store/publish-in-transaction.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestSchema,
  testSchema,
  uniqueName,
  withClient,
} from '../support/services.js'

// A commit made in SQL (`seqline_publish`) announces itself on the PostgreSQL bus: the payload
// is encoded by the database (postgres/commit-announcement.ts) and must read, on the bus, as the
// `head` message of a commit.
describe.skipIf(POSTGRES_URL === undefined)(`PostgresBus and SQL commits${NEEDS_POSTGRES}`, () => {
  let schema: TestSchema
  let store: PostgresStore
  let bus: PostgresBus
  let channel: string
  let fn: string
  const received: BusMessage[] = []

  beforeEach(async () => {
    schema = testSchema()
    store = new PostgresStore({ connectionString: schema.url, schema: schema.name, poolSize: 2 })
    await store.init()
    channel = uniqueName('seqline_bus')
    bus = new PostgresBus({ connectionString: schema.url, channel, store: { schema: schema.name } })
    await bus.init()
    received.length = 0
    bus.subscribe((m) => received.push(m))
    fn = `"${schema.name}".seqline_publish`
  })

  afterEach(async () => {
    await bus.close()
    await store.close()
    await schema.drop()
  })

  /** Resolves with the next `head` message of `stream` the bus receives. */
  function nextHead(stream: string): Promise<BusMessage> {
    return new Promise((resolve) => {
      const dispose = bus.subscribe((m) => {
        if (m.kind !== 'head' || m.stream !== stream) return
        dispose()
        resolve(m)
      })
    })
  }

  /** Publishes to `room:marker` in a transaction of its own and waits for its announcement. */
  async function marker(): Promise<void> {
    const seen = nextHead('room:marker')
    await withClient(schema.url, (c) => c.query(`SELECT ${fn}('room:marker', '1')`))
    await seen
  }

  it('records its channel in the store schema for seqline_publish', async () => {
    const { rows } = await withClient(schema.url, (c) =>
      c.query<{ channel: string }>(`SELECT "${schema.name}".seqline_bus_channel() AS channel`),
    )
    expect(rows).toEqual([{ channel }])
  })

  it('receives a commit of seqline_publish as a head message of no node, once committed', async () => {
    const announced = nextHead('room:a')
    await withClient(schema.url, async (c) => {
      await c.query('BEGIN')
      await c.query(`SELECT ${fn}('room:a', '{"n": 1}')`)
      await c.query(`SELECT ${fn}('room:a', '{"n": 2}')`)
      // A commit made meanwhile is announced; the open transaction's publishes are not.
      await marker()
      expect(received.filter((m) => m.kind === 'head' && m.stream === 'room:a')).toEqual([])
      await c.query('COMMIT')
    })
    const epoch = (await store.getStream('room:a'))?.epoch
    expect(await announced).toEqual({
      kind: 'head',
      node: '',
      stream: 'room:a',
      epoch,
      head: 1,
      closed: false,
    })
    expect(await nextHeadAfter(received, 'room:a', 2)).toMatchObject({ head: 2 })
  })

  it('receives nothing of a transaction that rolls back', async () => {
    await withClient(schema.url, async (c) => {
      await c.query('BEGIN')
      await c.query(`SELECT ${fn}('room:a', '1')`)
      await c.query('ROLLBACK')
    })
    await marker()
    expect(received.filter((m) => m.kind === 'head' && m.stream === 'room:a')).toEqual([])
  })

  it('announces on a channel named by the caller', async () => {
    const other = new PostgresBus({ connectionString: schema.url, channel: `${channel}_2` })
    await other.init()
    try {
      const seen = new Promise<BusMessage>((resolve) => other.subscribe(resolve))
      await withClient(schema.url, async (c) => {
        await c.query('BEGIN')
        await publishInTransaction(c, 'room:a', 1, { schema: schema.name, channel: other.channel })
        await c.query('COMMIT')
      })
      expect(await seen).toMatchObject({ kind: 'head', node: '', stream: 'room:a', head: 1 })
    } finally {
      await other.close()
    }
  })

  /** The `head` message of `stream` at `head`, already received or the next one. */
  function nextHeadAfter(
    messages: readonly BusMessage[],
    stream: string,
    head: number,
  ): Promise<BusMessage> {
    const found = messages.find((m) => m.kind === 'head' && m.stream === stream && m.head === head)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve) => {
      const dispose = bus.subscribe((m) => {
        if (m.kind !== 'head' || m.stream !== stream || m.head !== head) return
        dispose()
        resolve(m)
      })
    })
  }
})
