import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '@seqline/protocol'
import { PostgresStore } from '../../packages/server/src/store/postgres-store.js'
import { publishInTransaction } from '../../packages/server/src/store/publish-in-transaction.js'
import { runPsql } from '../support/psql.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestSchema,
  testSchema,
  uniqueName,
  withClient,
} from '../support/services.js'

const T0 = 1_700_000_000_000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (data: Uint8Array): string => new TextDecoder().decode(data)

// `seqline_publish`, the SQL function the PostgreSQL migrations install: a publish from any
// language, inside the caller's transaction. Run through the real psql binary where an operator
// would, and through node-postgres where an application would.
describe.skipIf(POSTGRES_URL === undefined)(`seqline_publish${NEEDS_POSTGRES}`, () => {
  let schema: TestSchema
  let store: PostgresStore
  /** The schema-qualified function name. */
  let fn: string

  beforeEach(async () => {
    schema = testSchema()
    store = new PostgresStore({ connectionString: schema.url, schema: schema.name, poolSize: 2 })
    await store.init()
    fn = `"${schema.name}".seqline_publish`
  })

  afterEach(async () => {
    await store.close()
    await schema.drop()
  })

  /** Runs `work` on a connection of its own that has begun a transaction, then rolls back. */
  async function inTransaction<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    return withClient(schema.url, async (client) => {
      await client.query('BEGIN')
      try {
        return await work(client)
      } finally {
        await client.query('ROLLBACK')
      }
    })
  }

  /** The error a statement run in its own transaction fails with. */
  function failure(sql: string, values: unknown[]): Promise<{ code: string; message: string }> {
    return inTransaction((c) => c.query(sql, values)).then(
      () => ({ code: 'none', message: 'the statement succeeded' }),
      (err: { code: string; message: string }) => ({ code: err.code, message: err.message }),
    )
  }

  it('publishes from psql inside a transaction and creates a JSON stream in the store format', async () => {
    const before = Date.now()
    const run = await runPsql(
      schema.url,
      `BEGIN;
       SELECT ${fn}('room:a', '{"n": 1}');
       SELECT ${fn}('room:a', '[2, "two"]');
       COMMIT;`,
    )
    const after = Date.now()
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout.trim().split('\n')).toEqual(['1', '2'])
    const stream = await store.getStream('room:a')
    expect(stream).toMatchObject({
      contentType: 'application/json',
      head: 2,
      tail: 1,
      closed: false,
      retention: null,
      fork: null,
      softDeleted: false,
    })
    expect(stream?.epoch).toMatch(/^[0-9a-z]{10}$/)
    const messages = await store.read('room:a', 0, 10)
    expect(messages.map((m) => JSON.parse(text(m.data)))).toEqual([{ n: 1 }, [2, 'two']])
    for (const m of messages) {
      expect(m).toMatchObject({ from: null, producer: null, seq: null })
      // Milliseconds of the database's clock, which is this machine's.
      expect(m.ts).toBeGreaterThanOrEqual(before)
      expect(m.ts).toBeLessThanOrEqual(after)
    }
  })

  it('continues the offsets of the nodes and records the sender with the from_user overload', async () => {
    const [first] = await store.append([
      {
        stream: 'room:a',
        payloads: [bytes('"node"')],
        from: null,
        createIfMissing: { contentType: 'application/json' },
        now: T0,
      },
    ])
    const offset = await withClient(schema.url, (c) =>
      c.query<{ offset: string }>(`SELECT ${fn}($1, $2, $3) AS offset`, [
        'room:a',
        '{"by": "sql"}',
        'alice',
      ]),
    )
    expect(offset.rows[0]?.offset).toBe('2')
    const [third] = await store.append([
      { stream: 'room:a', payloads: [bytes('"node"')], from: null, now: T0 },
    ])
    expect(first).toMatchObject({ kind: 'appended', head: 1 })
    expect(third).toMatchObject({ kind: 'appended', head: 3 })
    const [, sql] = await store.read('room:a', 0, 10)
    expect(sql).toMatchObject({ offset: 2, from: 'alice' })
    expect((await store.getStream('room:a'))?.epoch).toBe(
      first?.kind === 'appended' ? first.epoch : undefined,
    )
  })

  it('leaves nothing behind, not even the stream, when the transaction rolls back', async () => {
    const run = await runPsql(
      schema.url,
      `BEGIN; SELECT ${fn}('room:a', '1'); ROLLBACK;
       BEGIN; SELECT ${fn}('room:b', '1'); SELECT ${fn}('room:b', '2'); ROLLBACK;
       BEGIN; SELECT ${fn}('room:b', '3'); COMMIT;`,
    )
    expect(run.code).toBe(0)
    expect(await store.getStream('room:a')).toBeUndefined()
    const messages = await store.read('room:b', 0, 10)
    expect(messages.map((m) => [m.offset, text(m.data)])).toEqual([[1, '3']])
  })

  it('refuses a closed stream with SQLSTATE SL004 and the code STREAM_CLOSED', async () => {
    await store.createStream({ name: 'room:done', contentType: 'application/json', now: T0 })
    await store.append([
      { stream: 'room:done', payloads: [bytes('1')], from: null, close: true, now: T0 },
    ])
    const run = await runPsql(schema.url, `SELECT ${fn}('room:done', '2');`)
    expect(run.code).not.toBe(0)
    expect(run.stderr).toContain('SL004: seqline STREAM_CLOSED: stream room:done is closed')
    expect(await store.getStream('room:done')).toMatchObject({ head: 1, closed: true })
  })

  it('refuses deleted and non-JSON streams, bad names and SQL NULL with their codes', async () => {
    await store.createStream({ name: 'src', contentType: 'application/json', now: T0 })
    await store.createStream({
      name: 'fork',
      contentType: 'application/json',
      now: T0,
      fork: { source: 'src', offset: 0, subOffset: 0 },
    })
    await store.deleteStream('src')
    await store.createStream({ name: 'room:text', contentType: 'text/plain', now: T0 })
    const call = `SELECT ${fn}($1, $2::jsonb)`
    expect(await failure(call, ['src', '1'])).toEqual({
      code: 'SL003',
      message: 'seqline GONE: stream src was deleted',
    })
    expect(await failure(call, ['room:text', '1'])).toMatchObject({
      code: 'SL005',
      message: expect.stringMatching(/^seqline CONFLICT: stream room:text has content type/),
    })
    expect(await failure(call, ['bad name', '1'])).toMatchObject({
      code: 'SL001',
      message: expect.stringMatching(/^seqline INVALID_STREAM_NAME: /),
    })
    expect(await failure(call, ['x'.repeat(201), '1'])).toMatchObject({ code: 'SL001' })
    expect(await failure(call, [null, '1'])).toMatchObject({ code: 'SL001' })
    expect(await failure(call, ['room:a', null])).toMatchObject({
      code: 'SL002',
      message: 'seqline BAD_REQUEST: data is SQL NULL',
    })
    expect(await store.getStream('room:a')).toBeUndefined()
    expect(await store.getStream('room:text')).toMatchObject({ head: 0 })
  })

  it('accepts a JSON null and any JSON content type spelling', async () => {
    await store.createStream({
      name: 'room:a',
      contentType: 'Application/JSON; charset=utf-8',
      now: T0,
    })
    await withClient(schema.url, (c) => c.query(`SELECT ${fn}('room:a', 'null'::jsonb)`))
    expect((await store.read('room:a', 0, 10)).map((m) => text(m.data))).toEqual(['null'])
  })

  it('draws stream epochs of 10 base-36 digits, never the same', async () => {
    const { rows } = await withClient(schema.url, (c) =>
      c.query<{ epoch: string }>(
        `SELECT "${schema.name}".seqline_new_epoch() AS epoch FROM generate_series(1, 2000)`,
      ),
    )
    for (const { epoch } of rows) expect(epoch).toMatch(/^[0-9a-z]{10}$/)
    expect(new Set(rows.map((r) => r.epoch)).size).toBe(2000)
  })

  it('uses the tables of its own schema whatever the caller’s search_path', async () => {
    const decoy = uniqueName('seqline_decoy')
    try {
      await withClient(schema.url, async (c) => {
        await c.query(`CREATE SCHEMA "${decoy}"`)
        await c.query(`CREATE TABLE "${decoy}".streams (name text)`)
        await c.query(`SET search_path TO "${decoy}"`)
        await c.query(`SELECT ${fn}('room:a', '1')`)
        const decoyRows = await c.query(`SELECT * FROM "${decoy}".streams`)
        expect(decoyRows.rows).toEqual([])
      })
      expect((await store.getStream('room:a'))?.head).toBe(1)
    } finally {
      await withClient(schema.url, (c) => c.query(`DROP SCHEMA IF EXISTS "${decoy}" CASCADE`))
    }
  })

  it('runs for a role granted EXECUTE on it without any right on the tables, and for no other', async () => {
    const role = uniqueName('seqline_app')
    await withClient(schema.url, (c) => c.query(`CREATE ROLE "${role}" NOLOGIN`))
    try {
      const asRole = (sql: string) =>
        inTransaction(async (c) => {
          await c.query(`SET LOCAL ROLE "${role}"`)
          await c.query(sql)
        }).then(
          () => 'ok',
          (err: { code: string }) => err.code,
        )
      await withClient(schema.url, (c) =>
        c.query(`GRANT USAGE ON SCHEMA "${schema.name}" TO "${role}"`),
      )
      // Not granted: EXECUTE was revoked from PUBLIC by the migration.
      expect(await asRole(`SELECT ${fn}('room:a', '1')`)).toBe('42501')
      await withClient(schema.url, (c) =>
        c.query(`GRANT EXECUTE ON FUNCTION ${fn}(text, jsonb) TO "${role}"`),
      )
      expect(await asRole(`SELECT ${fn}('room:a', '1')`)).toBe('ok')
      expect(await asRole(`SELECT * FROM "${schema.name}".messages`)).toBe('42501')
    } finally {
      await schema.drop()
      await withClient(schema.url, (c) => c.query(`DROP ROLE IF EXISTS "${role}"`))
    }
  })

  describe('publishInTransaction', () => {
    it('appends through seqline_publish and returns the position', async () => {
      const published = await withClient(schema.url, async (c) => {
        await c.query('BEGIN')
        const position = await publishInTransaction(
          c,
          'user:alice',
          { order: 1 },
          { schema: schema.name, from: 'shop' },
        )
        await c.query('COMMIT')
        return position
      })
      const stream = await store.getStream('user:alice')
      expect(published).toEqual({ epoch: stream?.epoch, offset: 1 })
      const [message] = await store.read('user:alice', 0, 10)
      expect(message?.from).toBe('shop')
      expect(JSON.parse(text(message?.data ?? bytes('')))).toEqual({ order: 1 })
    })

    it('rejects with the Seqline error of a refusal', async () => {
      await store.createStream({
        name: 'room:done',
        contentType: 'application/json',
        closed: true,
        now: T0,
      })
      await expect(
        inTransaction((c) => publishInTransaction(c, 'room:done', 1, { schema: schema.name })),
      ).rejects.toMatchObject({
        name: 'SeqlineError',
        code: ErrorCode.STREAM_CLOSED,
        message: 'stream room:done is closed',
      })
    })

    it('refuses an invalid name or a value that is not JSON before sending anything', async () => {
      await inTransaction(async (c) => {
        await expect(publishInTransaction(c, 'bad name', 1)).rejects.toMatchObject({
          code: ErrorCode.INVALID_STREAM_NAME,
        })
        await expect(publishInTransaction(c, 'room:a', undefined)).rejects.toMatchObject({
          code: ErrorCode.BAD_REQUEST,
        })
        // The transaction is still usable.
        expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
      })
    })
  })
})
