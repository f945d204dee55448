import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '@seqline/protocol'
import { SQLITE_SCHEMA_VERSION, migrate } from '../../packages/server/src/store/sqlite-schema.js'
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js'
import { runStoreConformance } from '../support/store-conformance.js'

const T0 = 1_700_000_000_000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (data: Uint8Array): string => new TextDecoder().decode(data)

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'seqline-sqlite-'))
}

runStoreConformance('SqliteStore', async () => {
  const dir = await tempDir()
  return {
    store: new SqliteStore({ path: join(dir, 'seqline.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

describe('SqliteStore on disk', () => {
  let dir: string
  let path: string
  const open: SqliteStore[] = []

  async function openStore(): Promise<SqliteStore> {
    const store = new SqliteStore({ path })
    await store.init()
    open.push(store)
    return store
  }

  beforeEach(async () => {
    dir = await tempDir()
    // A nested, not yet existing directory: the store creates it.
    path = join(dir, 'nested', 'data', 'seqline.db')
  })

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps everything across a close and a reopen of the same file', async () => {
    const first = await openStore()
    const created = await first.createStream({
      name: 'room:a',
      contentType: 'application/json',
      ttlSeconds: 60,
      retention: { maxCount: 10 },
      initial: [bytes('"hello"')],
      from: 'alice',
      now: T0,
    })
    // A plain creation is never `rejected` (only forks are); narrow the union for `.stream`.
    if (created.kind === 'rejected') throw new Error(created.message)
    await first.append([
      {
        stream: 'room:a',
        payloads: [bytes('1'), bytes('2')],
        from: 'bob',
        producer: { id: 'p', epoch: 1, seq: 0 },
        streamSeq: '0001',
        close: true,
        now: T0 + 1,
      },
    ])
    await first.createClient({
      id: 'c1',
      userId: 'alice',
      secretHash: 'h',
      createdAt: T0,
      lastSeenAt: T0,
    })
    await first.saveCursors(
      [{ clientId: 'c1', stream: 'room:a', epoch: created.stream.epoch, offset: 2 }],
      T0 + 2,
    )
    const before = await first.getStream('room:a')
    await first.close()

    const second = await openStore()
    const after = await second.getStream('room:a')
    expect(after).toEqual(before)
    expect(after).toMatchObject({
      head: 3,
      closed: true,
      closedBy: { id: 'p', epoch: 1, seq: 0 },
      streamSeq: '0001',
      ttlSeconds: 60,
      retention: { maxCount: 10 },
    })
    const messages = await second.read('room:a', 0, 10)
    expect(messages.map((m) => [m.offset, text(m.data), m.from])).toEqual([
      [1, '"hello"', 'alice'],
      [2, '1', 'bob'],
      [3, '2', 'bob'],
    ])
    expect(await second.getProducer('room:a', 'p')).toEqual({
      epoch: 1,
      lastSeq: 0,
      lastOffset: 3,
      updatedAt: T0 + 1,
    })
    expect(await second.getClient('c1')).toMatchObject({ userId: 'alice' })
    expect(await second.getCursors('c1')).toEqual([
      {
        clientId: 'c1',
        stream: 'room:a',
        epoch: created.stream.epoch,
        offset: 2,
        updatedAt: T0 + 2,
      },
    ])
    // The retry of the closing publish is still recognised after the restart.
    const [retry] = await second.append([
      {
        stream: 'room:a',
        payloads: [bytes('1'), bytes('2')],
        from: 'bob',
        producer: { id: 'p', epoch: 1, seq: 0 },
        close: true,
        now: T0 + 3,
      },
    ])
    expect(retry).toMatchObject({ kind: 'duplicate', offset: 3, closed: true })
  })

  it('lets a second store on the same file see what the first one committed', async () => {
    const first = await openStore()
    await first.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
    await first.append([{ stream: 'room:a', payloads: [bytes('1')], from: null, now: T0 }])
    await first.close()
    const second = await openStore()
    expect((await second.read('room:a', 0, 10)).map((m) => text(m.data))).toEqual(['1'])
    const [result] = await second.append([
      { stream: 'room:a', payloads: [bytes('2')], from: null, now: T0 },
    ])
    expect(result).toMatchObject({ kind: 'appended', head: 2 })
  })

  it('gives a lease to one of two stores open on the same file at a time', async () => {
    const a = await openStore()
    const b = await openStore()
    expect(await a.claimLease('webhooks', 'node-a', 1_000, T0)).toBe(true)
    expect(await b.claimLease('webhooks', 'node-b', 1_000, T0 + 1)).toBe(false)
    expect(await b.claimLease('webhooks', 'node-b', 1_000, T0 + 1_000)).toBe(true)
    expect(await a.claimLease('webhooks', 'node-a', 1_000, T0 + 1_001)).toBe(false)
  })

  it('runs the schema migrations once and is idempotent on reopen', async () => {
    const first = await openStore()
    await first.init()
    await first.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
    await first.close()
    await (await openStore()).close()
    await openStore()
    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION)
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
      const tables = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .all()
        .map((row) => (row as { name: string }).name)
      expect(tables).toEqual(['clients', 'cursors', 'leases', 'messages', 'producers', 'streams'])
      expect(raw.prepare('SELECT COUNT(*) AS n FROM streams').get()).toEqual({ n: 1 })
    } finally {
      raw.close()
    }
  })

  it('upgrades a database of schema version 1 in place', async () => {
    await mkdir(dirname(path), { recursive: true })
    const raw = new Database(path)
    migrate(raw, 1)
    raw.exec(`
      INSERT INTO streams (name, epoch, content_type, head, tail, created_at, last_access_at,
        retention_max_count) VALUES ('room:a', 'e1', 'application/json', 2, 1, ${T0}, ${T0}, 5);
      INSERT INTO messages (stream, offset, from_user, ts, data)
        VALUES ('room:a', 1, 'alice', ${T0}, CAST('"one"' AS BLOB)),
               ('room:a', 2, 'bob', ${T0}, CAST('"two"' AS BLOB));
      INSERT INTO producers (stream, producer_id, epoch, last_seq, last_offset, updated_at)
        VALUES ('room:a', 'p', 0, 0, 2, ${T0});
      INSERT INTO clients (id, user_id, secret_hash, created_at, last_seen_at)
        VALUES ('c1', 'alice', 'h', ${T0}, ${T0});
      INSERT INTO cursors (client_id, stream, epoch, offset, updated_at)
        VALUES ('c1', 'room:a', 'e1', 1, ${T0});
    `)
    expect(raw.pragma('user_version', { simple: true })).toBe(1)
    raw.close()

    const store = await openStore()
    expect(await store.getStream('room:a')).toMatchObject({
      epoch: 'e1',
      head: 2,
      retention: { maxCount: 5 },
      fork: null,
      softDeleted: false,
    })
    expect(await store.getClient('c1')).toMatchObject({ userId: 'alice', closingAt: null })
    expect((await store.read('room:a', 0, 10)).map((m) => text(m.data))).toEqual(['"one"', '"two"'])
    expect(await store.trim('room:a', { policy: { untilAcked: true }, now: T0 })).toBe(2)
    const [next] = await store.append([
      {
        stream: 'room:a',
        payloads: [bytes('"three"')],
        from: null,
        producer: { id: 'p', epoch: 0, seq: 1 },
        now: T0,
      },
    ])
    expect(next).toMatchObject({ kind: 'appended', head: 3 })
    expect(await store.markClientClosing('c1', T0 + 1)).toBe(true)
    expect(await store.forgetClosingClients(T0 + 1)).toEqual([{ id: 'c1', userId: 'alice' }])
    await store.close()
    const check = new Database(path, { readonly: true })
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION)
    } finally {
      check.close()
    }
  })

  it('refuses a database written by a newer schema version', async () => {
    await (await openStore()).close()
    open.length = 0
    const raw = new Database(path)
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`)
    raw.close()
    await expect(new SqliteStore({ path }).init()).rejects.toMatchObject({
      code: ErrorCode.INTERNAL,
    })
  })

  it('creates its directory 0700 and its database, WAL and shared-memory files 0600', async () => {
    const store = await openStore()
    await store.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700)
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect({ file, mode: (await stat(file)).mode & 0o777 }).toEqual({ file, mode: 0o600 })
    }
  })

  it('keeps the mode an operator gave an existing database file', async () => {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, '')
    await chmod(path, 0o640)
    const store = await openStore()
    await store.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
    expect((await stat(path)).mode & 0o777).toBe(0o640)
  })

  it('answers a read only once the writes before it are on disk, and shows them', async () => {
    const store = await openStore()
    await store.createStream({ name: 'room:a', contentType: 'application/json', now: T0 })
    let appended = false
    const write = store
      .append([{ stream: 'room:a', payloads: [bytes('1'), bytes('2')], from: null, now: T0 }])
      .then(() => (appended = true))
    const read = await store.read('room:a', 0, 10)
    expect(appended).toBe(true)
    expect(read.map((m) => text(m.data))).toEqual(['1', '2'])
    await write
  })

  it('rejects calls before init()', async () => {
    await expect(new SqliteStore({ path }).getStream('room:a')).rejects.toMatchObject({
      code: ErrorCode.INTERNAL,
    })
  })
})
