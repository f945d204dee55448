import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '@seqline/protocol'
import { postgresClientConfig } from '../../packages/server/src/postgres/postgres-connection.js'
import {
  POSTGRES_SCHEMA_VERSION,
  migratePostgres,
} from '../../packages/server/src/store/postgres-schema.js'
import { parsePostgresSpec } from '../../packages/server/src/postgres/postgres-spec.js'
import { PostgresStore } from '../../packages/server/src/store/postgres-store.js'
import { publishInTransaction } from '../../packages/server/src/store/publish-in-transaction.js'
import type { AppendRequest } from '../../packages/server/src/store/store.js'
import { CLI_PATH } from '../support/server-process.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestSchema,
  testSchema,
  withClient,
} from '../support/services.js'

const T0 = 1_700_000_000_000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (data: Uint8Array): string => new TextDecoder().decode(data)
const run = promisify(execFile)

// What the conformance suite cannot show with one store: several nodes (stores) on one database.
describe.skipIf(POSTGRES_URL === undefined)(`PostgresStore across nodes${NEEDS_POSTGRES}`, () => {
  let schema: TestSchema
  const stores: PostgresStore[] = []

  async function node(options: { migrate?: boolean } = {}): Promise<PostgresStore> {
    const store = new PostgresStore({
      connectionString: schema.url,
      schema: schema.name,
      poolSize: 4,
      ...options,
    })
    await store.init()
    stores.push(store)
    return store
  }

  beforeEach(() => {
    schema = testSchema()
  })

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await schema.drop()
  })

  it('migrates once when several nodes start at the same time', async () => {
    await Promise.all([node(), node(), node()])
    const versions = await withClient(schema.url, (c) =>
      c.query<{ version: number }>(`SELECT version FROM "${schema.name}".seqline_migrations`),
    )
    expect(versions.rows.map((r) => r.version)).toEqual(
      Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
    )
  })

  it('upgrades a database of schema version 1 in place', async () => {
    const config = postgresClientConfig({ connectionString: schema.url, schema: schema.name })
    const old = new pg.Client(config)
    await old.connect()
    try {
      expect(await migratePostgres(old, schema.name, 1)).toEqual([1])
      await old.query(`
        INSERT INTO streams (name, epoch, content_type, head, tail, created_at, last_access_at,
          retention_max_count) VALUES ('room:a', 'e1', 'application/json', 2, 1, ${T0}, ${T0}, 5);
        INSERT INTO messages (stream, msg_offset, from_user, ts, data)
          VALUES ('room:a', 1, 'alice', ${T0}, '"one"'), ('room:a', 2, 'bob', ${T0}, '"two"');
        INSERT INTO clients (id, user_id, secret_hash, created_at, last_seen_at)
          VALUES ('c1', 'alice', 'h', ${T0}, ${T0});
        INSERT INTO cursors (client_id, stream, epoch, acked_offset, updated_at)
          VALUES ('c1', 'room:a', 'e1', 1, ${T0});
      `)
    } finally {
      await old.end()
    }
    const store = await node()
    const versions = await withClient(schema.url, (c) =>
      c.query<{ version: number }>(
        `SELECT version FROM "${schema.name}".seqline_migrations ORDER BY version`,
      ),
    )
    expect(versions.rows.map((r) => r.version)).toEqual(
      Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
    )
    expect(await store.getStream('room:a')).toMatchObject({
      epoch: 'e1',
      head: 2,
      retention: { maxCount: 5 },
    })
    expect(await store.getClient('c1')).toMatchObject({ closingAt: null })
    expect((await store.read('room:a', 0, 10)).map((m) => text(m.data))).toEqual(['"one"', '"two"'])
    // The functions of the later migrations work on the rows of the first.
    const published = await withClient(schema.url, (c) =>
      c.query<{ offset: string }>(
        `SELECT "${schema.name}".seqline_publish('room:a', '3') AS offset`,
      ),
    )
    expect(published.rows).toEqual([{ offset: '3' }])
    expect(await store.trim('room:a', { policy: { untilAcked: true }, now: T0 })).toBe(2)
    expect(await store.markClientClosing('c1', T0 + 1)).toBe(true)
    expect(await store.forgetClosingClients(T0 + 1)).toEqual([{ id: 'c1', userId: 'alice' }])
  })

  it('refuses a database written by a newer schema version', async () => {
    await node()
    await withClient(schema.url, (c) =>
      c.query(`INSERT INTO "${schema.name}".seqline_migrations (version) VALUES ($1)`, [
        POSTGRES_SCHEMA_VERSION + 1,
      ]),
    )
    const newer = new PostgresStore({ connectionString: schema.url, schema: schema.name })
    await expect(newer.init()).rejects.toMatchObject({ code: ErrorCode.INTERNAL })
  })

  it('assigns gapless, unique offsets to concurrent publishers on different nodes', async () => {
    const nodes = await Promise.all([node(), node(), node()])
    // Each node group-commits batches to the same streams at the same time, some of which create
    // the stream (createIfMissing) and some of which carry a producer.
    const work = nodes.map(async (store, n) => {
      const seqs = [0, 0]
      for (let batch = 0; batch < 20; batch++) {
        const requests: AppendRequest[] = []
        for (let i = 0; i < 5; i++) {
          const s = i % 2
          const seq = seqs[s] ?? 0
          seqs[s] = seq + 1
          requests.push({
            stream: `room:${s}`,
            payloads: [bytes(`"${n}-${batch}-${i}"`)],
            from: null,
            producer: { id: `node-${n}`, epoch: 1, seq },
            createIfMissing: { contentType: 'application/json' },
            now: T0,
          })
        }
        const results = await store.append(requests)
        for (const r of results) expect(r.kind).toBe('appended')
      }
    })
    await Promise.all(work)
    for (const stream of ['room:0', 'room:1']) {
      const record = await nodes[0]?.getStream(stream)
      const messages = await nodes[1]?.read(stream, 0, 10_000)
      expect(messages?.map((m) => m.offset)).toEqual(
        Array.from({ length: record?.head ?? 0 }, (_, i) => i + 1),
      )
      expect(new Set(messages?.map((m) => text(m.data))).size).toBe(messages?.length)
    }
    expect(
      ((await nodes[0]?.getStream('room:0'))?.head ?? 0) +
        ((await nodes[0]?.getStream('room:1'))?.head ?? 0),
    ).toBe(3 * 20 * 5)
  })

  it('deduplicates a retry that arrives at another node', async () => {
    const [a, b] = await Promise.all([node(), node()])
    const request: AppendRequest = {
      stream: 'room:a',
      payloads: [bytes('1')],
      from: 'alice',
      producer: { id: 'p', epoch: 0, seq: 0 },
      createIfMissing: { contentType: 'application/json' },
      now: T0,
    }
    const [first] = (await a?.append([request])) ?? []
    const [retry] = (await b?.append([request])) ?? []
    expect(first).toMatchObject({ kind: 'appended', head: 1 })
    expect(retry).toMatchObject({ kind: 'duplicate', offset: 1 })
  })

  it('trims and collects clients safely when every node runs the jobs at once', async () => {
    const nodes = await Promise.all([node(), node(), node()])
    const [a] = nodes
    await a?.createStream({
      name: 'room:a',
      contentType: 'application/json',
      initial: Array.from({ length: 50 }, (_, i) => bytes(String(i))),
      now: T0,
    })
    await a?.createClient({ id: 'c1', userId: 'u', secretHash: 'h', createdAt: T0, lastSeenAt: T0 })
    const tails = await Promise.all(
      nodes.map((s) => s.trim('room:a', { policy: { maxCount: 10 }, now: T0 })),
    )
    expect(tails).toEqual([41, 41, 41])
    const collected = await Promise.all(nodes.map((s) => s.gcClients(T0 + 1)))
    expect(collected.flat()).toEqual([{ id: 'c1', userId: 'u' }])
    expect((await a?.read('room:a', 0, 100))?.map((m) => m.offset)[0]).toBe(41)
  })

  it('reads the schema from the store spec', () => {
    expect(parsePostgresSpec('postgres://u@h:5432/db?schema=s1&sslmode=disable')).toEqual({
      connectionString: 'postgres://u@h:5432/db?sslmode=disable',
      schema: 's1',
    })
  })

  it('works in a schema whose name needs quoting', async () => {
    const name = `${schema.name} "x"`
    const store = new PostgresStore({ connectionString: schema.url, schema: name, poolSize: 2 })
    try {
      await store.init()
      await store.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
      expect((await store.getStream('room:a'))?.head).toBe(0)
    } finally {
      await store.close()
      await withClient(schema.url, (c) =>
        c.query(`DROP SCHEMA IF EXISTS "${name.replaceAll('"', '""')}" CASCADE`),
      )
    }
  })

  it('migrates with "seqline migrate" and exits', async () => {
    const spec = `${schema.url}?schema=${schema.name}`
    const { stdout } = await run(process.execPath, [CLI_PATH, 'migrate', '--store', spec])
    expect(stdout).toContain('up to date')
    const store = await node({ migrate: false })
    expect(await store.listStreams(undefined, 10)).toEqual([])
  })
})

describe.skipIf(POSTGRES_URL === undefined)(`publishInTransaction${NEEDS_POSTGRES}`, () => {
  let schema: TestSchema
  let store: PostgresStore
  let app: pg.Client

  beforeEach(async () => {
    schema = testSchema()
    store = new PostgresStore({ connectionString: schema.url, schema: schema.name, poolSize: 2 })
    await store.init()
    app = new pg.Client({ connectionString: schema.url })
    await app.connect()
    await app.query('CREATE TEMP TABLE orders (id INTEGER PRIMARY KEY)')
  })

  afterEach(async () => {
    await app.end()
    await store.close()
    await schema.drop()
  })

  it('publishes when the application transaction commits', async () => {
    await app.query('BEGIN')
    await app.query('INSERT INTO orders (id) VALUES (1)')
    const published = await publishInTransaction(
      app,
      'user:alice',
      { order: 1 },
      {
        schema: schema.name,
      },
    )
    // Not visible to anyone before the commit.
    expect(await store.read('user:alice', 0, 10)).toEqual([])
    await app.query('COMMIT')
    expect(published.offset).toBe(1)
    const messages = await store.read('user:alice', 0, 10)
    expect(messages.map((m) => JSON.parse(text(m.data)))).toEqual([{ order: 1 }])
    expect((await store.getStream('user:alice'))?.epoch).toBe(published.epoch)
  })

  it('publishes nothing when the application transaction rolls back', async () => {
    await store.append([
      {
        stream: 'user:alice',
        payloads: [bytes('"before"')],
        from: null,
        createIfMissing: { contentType: 'application/json' },
        now: T0,
      },
    ])
    await app.query('BEGIN')
    await app.query('INSERT INTO orders (id) VALUES (2)')
    await publishInTransaction(app, 'user:alice', { order: 2 }, { schema: schema.name })
    await publishInTransaction(app, 'user:bob', { order: 2 }, { schema: schema.name })
    await app.query('ROLLBACK')
    expect((await store.read('user:alice', 0, 10)).map((m) => text(m.data))).toEqual(['"before"'])
    expect(await store.getStream('user:bob')).toBeUndefined()
    // The next publish takes the next offset: the rolled-back one left no gap.
    const [next] = await store.append([
      { stream: 'user:alice', payloads: [bytes('"after"')], from: null, now: T0 },
    ])
    expect(next).toMatchObject({ kind: 'appended', head: 2 })
  })

  it('leaves the application its search_path', async () => {
    await app.query('BEGIN')
    await publishInTransaction(app, 'user:alice', 1, { schema: schema.name })
    // The temp table (and anything on the app's own path) is still found unqualified.
    await app.query('INSERT INTO orders (id) VALUES (3)')
    await app.query('COMMIT')
    expect((await app.query('SELECT id FROM orders')).rows).toEqual([{ id: 3 }])
  })
})
