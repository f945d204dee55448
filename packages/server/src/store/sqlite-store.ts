import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import {
  checkAppend,
  checkAppendShape,
  forkReadThrough,
  newStreamRecord,
  planAppend,
  planFork,
  retentionOfColumns,
  sameStreamConfig,
  trimmedTail,
  unreadCountCap,
} from './store-rules.js'
import type {
  ClientRef,
  AppendRequest,
  AppendResult,
  ClientDeliveryQuery,
  ClientRecord,
  ClientStateCounts,
  ClientStreamDelivery,
  CreateStreamInput,
  CreateStreamResult,
  CursorRecord,
  ProducerState,
  RetentionHolder,
  StoredMessage,
  StreamDelivery,
  StreamDeliveryQuery,
  Store,
  StreamHead,
  StreamRecord,
  TrimRequest,
  JsonArrayChunk,
  NewClientRecord,
  UnreadEpisode,
  UnreadQuery,
} from './store.js'
import { migrate, prepareStatements, type Statements } from './sqlite-schema.js'
import { WalSync } from './wal-sync.js'
import { type UnreadRow, toUnreadEpisode } from './unread-rows.js'
import {
  type ClientDeliveryRow,
  type StreamDeliveryRow,
  toClientStreamDelivery,
  toStreamDelivery,
} from './delivery-rows.js'

/** Options of `SqliteStore`. */
export interface SqliteStoreOptions {
  /** Database file; its parent directory is created if needed. */
  readonly path: string
  /** How long a write waits for another connection's lock before failing, ms. */
  readonly busyTimeoutMs?: number
}

/** Defaults of `SqliteStoreOptions`. */
export const sqliteStoreDefaults = {
  busyTimeoutMs: 5_000,
} as const

interface StreamRow {
  name: string
  epoch: string
  content_type: string
  head: number
  tail: number
  created_at: number
  closed: number
  closed_by_producer: string | null
  closed_by_epoch: number | null
  closed_by_seq: number | null
  ttl_seconds: number | null
  expires_at: number | null
  last_access_at: number
  stream_seq: string | null
  retention_max_age_ms: number | null
  retention_max_count: number | null
  retention_until_acked: number
  fork_source: string | null
  fork_offset: number | null
  fork_sub_offset: number | null
  soft_deleted: number
}

interface MessageRow {
  offset: number
  producer: string | null
  seq: number | null
  from_user: string | null
  ts: number
  data: Buffer
}

interface ProducerRow {
  epoch: number
  last_seq: number
  last_offset: number
  updated_at: number
}

interface ClientRow {
  id: string
  user_id: string
  secret_hash: string
  created_at: number
  last_seen_at: number
  closing_at: number | null
}

interface CursorRow {
  client_id: string
  stream: string
  epoch: string
  offset: number
  updated_at: number
}

/**
 * The default `Store`: one SQLite file through better-sqlite3, in WAL mode. A `Store.append`
 * batch is one transaction, so a tick's publishes cost one fsync (group commit, DESIGN §3).
 *
 * Durability (G1): an acknowledged publish must survive a process crash and a power loss, so no
 * write resolves before its commit is on disk. The fsync does not run on the event loop: commits
 * write the WAL (`synchronous=NORMAL`) and {@link WalSync} fdatasyncs it on libuv's thread pool —
 * one fsync for every commit made before it started — while the loop goes on reading publishes
 * and fanning out what is already durable. Reads wait for that fsync too, so nothing not yet on
 * disk is ever shown.
 *
 * better-sqlite3 is synchronous; the methods still return Promises to honour the `Store` seam.
 *
 * @example
 * const store = new SqliteStore({ path: './data/seqline.db' })
 * await store.init()
 */
export class SqliteStore implements Store {
  readonly #options: Required<SqliteStoreOptions>
  #db: Database.Database | undefined
  #statements: Statements | undefined
  #wal: WalSync | undefined

  constructor(options: SqliteStoreOptions) {
    this.#options = {
      path: options.path,
      busyTimeoutMs: options.busyTimeoutMs ?? sqliteStoreDefaults.busyTimeoutMs,
    }
  }

  async init(): Promise<void> {
    if (this.#db !== undefined) return
    const path = this.#options.path
    const onDisk = path !== ':memory:' && path !== ''
    if (onDisk) createPrivateFile(path)
    const db = new Database(path)
    try {
      db.pragma('journal_mode = WAL')
      // Commits write the WAL without syncing it; `WalSync` syncs it off the event loop before any
      // write is answered or any reader shows it (see the class comment).
      db.pragma(`synchronous = ${onDisk ? 'NORMAL' : 'FULL'}`)
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.#options.busyTimeoutMs))}`)
      // Catch-up reads scan message pages: map the file (reads skip a copy through the page
      // cache) and keep more pages cached than SQLite's 2 MB default.
      db.pragma('mmap_size = 268435456')
      db.pragma('cache_size = -32768')
      migrate(db)
      this.#statements = prepareStatements(db)
    } catch (error) {
      db.close()
      throw error
    }
    this.#db = db
    if (onDisk) {
      this.#wal = new WalSync(`${path}-wal`)
      // What `migrate` wrote is synced like any later commit.
      await this.#durable(undefined)
    }
  }

  async close(): Promise<void> {
    const db = this.#db
    const wal = this.#wal
    this.#db = undefined
    this.#statements = undefined
    this.#wal = undefined
    await wal?.close()
    db?.close()
  }

  async createStream(input: CreateStreamInput): Promise<CreateStreamResult> {
    const { db, st } = this.#open()
    return this.#durable(
      db
        .transaction((): CreateStreamResult => {
          const existing = readStream(st, input.name)
          if (existing !== undefined) {
            return {
              kind: sameStreamConfig(existing, input) ? 'exists' : 'conflict',
              stream: existing,
            }
          }
          let stream = newStreamRecord(input.name, input.contentType, input.now, input)
          if (input.fork !== undefined) {
            const source = readStream(st, input.fork.source)
            const read =
              source === undefined
                ? []
                : (
                    st.readMessagesThrough.all(
                      input.fork.source,
                      forkReadThrough(source, input.fork),
                    ) as MessageRow[]
                  ).map(toStoredMessage)
            const plan = planFork(source, { ...input, fork: input.fork }, read)
            if (plan.kind === 'rejected') return plan
            stream = plan.stream
            for (const m of plan.messages) insertMessage(st, input.name, m, null)
          }
          const initial = input.initial ?? []
          if (initial.length > 0) {
            const plan = planAppend(stream, {
              stream: input.name,
              payloads: initial,
              from: input.from ?? null,
              now: input.now,
            })
            stream = plan.stream
            for (const m of plan.messages) insertMessage(st, input.name, m, null)
          }
          if (input.closed === true) stream = { ...stream, closed: true }
          st.insertStream.run(streamParams(stream))
          return { kind: 'created', stream }
        })
        .immediate(),
    )
  }

  async getStream(name: string): Promise<StreamRecord | undefined> {
    return readStream(await this.#reader(), name)
  }

  async getHeads(names: readonly string[]): Promise<Map<string, StreamHead>> {
    const heads = new Map<string, StreamHead>()
    if (names.length === 0) return heads
    // The names travel as one JSON array: one statement whatever their number.
    const rows = (await this.#reader()).getHeads.all(JSON.stringify(names)) as {
      name: string
      epoch: string
      head: number
    }[]
    for (const row of rows) heads.set(row.name, { epoch: row.epoch, head: row.head })
    return heads
  }

  async deleteStream(name: string): Promise<boolean> {
    const { db, st } = this.#open()
    return this.#durable(
      db
        .transaction((): boolean => {
          const stream = readStream(st, name)
          if (stream === undefined || stream.softDeleted) return false
          st.deleteMessagesOfStream.run(name)
          st.deleteProducersOfStream.run(name)
          st.deleteCursorsOfStream.run(name)
          if (st.hasForks.get(name) !== undefined) {
            // Forks still name it as their source: keep a tombstone (Durable Streams §4.2).
            st.softDeleteStream.run(name)
            return true
          }
          st.deleteStream.run(name)
          // Cascade: a soft-deleted source whose last fork this was goes too, up the chain.
          let source = stream.fork?.source
          while (source !== undefined) {
            const record = readStream(st, source)
            if (
              record === undefined ||
              !record.softDeleted ||
              st.hasForks.get(source) !== undefined
            ) {
              break
            }
            st.deleteStream.run(source)
            source = record.fork?.source
          }
          return true
        })
        .immediate(),
    )
  }

  async expiredStreams(now: number, limit: number): Promise<string[]> {
    const rows = (await this.#reader()).expiredStreams.all({ now, limit: Math.max(0, limit) }) as {
      name: string
    }[]
    return rows.map((row) => row.name)
  }

  async listStreams(after: string | undefined, limit: number): Promise<StreamRecord[]> {
    const rows = (await this.#reader()).listStreams.all({
      after: after ?? null,
      limit: Math.max(0, limit),
    }) as StreamRow[]
    return rows.map(toStreamRecord)
  }

  async touchStream(name: string, now: number): Promise<void> {
    await this.#write((_, st) => st.touchStream.run({ now, name }))
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    const { db, st } = this.#open()
    // One IMMEDIATE transaction for the whole batch: one WAL sync for all of it, and the write
    // lock is taken up front so that another process cannot slip in between our reads and writes.
    return this.#durable(
      db.transaction((): AppendResult[] => batch.map((r) => appendOne(st, r))).immediate(),
    )
  }

  async read(
    name: string,
    after: number,
    limit: number,
    maxBytes?: number,
  ): Promise<StoredMessage[]> {
    if (limit <= 0) return []
    const st = await this.#reader()
    // Rows as arrays (`raw`): reads are the hot path of catch-up, and arrays skip building one
    // keyed object per row.
    if (maxBytes === undefined || !Number.isFinite(maxBytes)) {
      return (st.readMessagesRaw.all(name, after, limit) as RawMessageRow[]).map(rawToStoredMessage)
    }
    const last = pageEnd(st, name, after, limit, maxBytes)
    if (last === undefined) return []
    const rows = st.readMessagesUpToRaw.all(name, after, last) as RawMessageRow[]
    return rows.map(rawToStoredMessage)
  }

  async readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    if (limit <= 0) return undefined
    const st = await this.#reader()
    const last = pageEnd(st, name, after, limit, maxBytes)
    if (last === undefined) return undefined
    const row = st.readJsonArray.get({ name, after, last }) as
      { first: number | null; last: number; count: number; bytes: number; body: Buffer } | undefined
    if (row === undefined || row.first === null) return undefined
    return { first: row.first, last: row.last, count: row.count, bytes: row.bytes, body: row.body }
  }

  async getProducer(stream: string, producerId: string): Promise<ProducerState | undefined> {
    return readProducer(await this.#reader(), stream, producerId)
  }

  async gcProducers(updatedBefore: number): Promise<number> {
    return this.#write((_, st) => st.deleteStaleProducers.run(updatedBefore).changes)
  }

  async createClient(record: NewClientRecord): Promise<void> {
    await this.createClients([record])
  }

  async createClients(records: readonly NewClientRecord[]): Promise<void> {
    const { db, st } = this.#open()
    await this.#durable(
      db
        .transaction(() => {
          for (const record of records) {
            const inserted = st.insertClient.run(
              record.id,
              record.userId,
              record.secretHash,
              record.createdAt,
              record.lastSeenAt,
            )
            // Throwing rolls the whole batch back.
            if (inserted.changes === 0) {
              throw new SeqlineError(ErrorCode.CONFLICT, `client ${record.id} already exists`)
            }
          }
        })
        .immediate(),
    )
  }

  async getClient(id: string): Promise<ClientRecord | undefined> {
    const row = (await this.#reader()).getClient.get(id) as ClientRow | undefined
    return row === undefined ? undefined : toClientRecord(row)
  }

  async countClientsOfUser(userId: string): Promise<number> {
    return ((await this.#reader()).countClientsOfUser.get(userId) as { n: number }).n
  }

  async touchClients(ids: readonly string[], now: number): Promise<void> {
    const { db, st } = this.#open()
    await this.#durable(
      db
        .transaction(() => {
          for (const id of ids) st.touchClient.run({ now, id })
        })
        .immediate(),
    )
  }

  async updateClientSecret(id: string, secretHash: string): Promise<boolean> {
    return this.#write((_, st) => st.updateClientSecret.run({ id, secretHash }).changes > 0)
  }

  async deleteClient(id: string): Promise<boolean> {
    const { db, st } = this.#open()
    return this.#durable(
      db
        .transaction((): boolean => {
          st.deleteCursorsOfClient.run(id)
          return st.deleteClient.run(id).changes > 0
        })
        .immediate(),
    )
  }

  async gcClients(seenBefore: number): Promise<ClientRef[]> {
    const { db, st } = this.#open()
    return this.#durable(
      db
        .transaction((): ClientRef[] => {
          st.deleteCursorsOfStaleClients.run(seenBefore)
          return ids(st.deleteStaleClients.all(seenBefore))
        })
        .immediate(),
    )
  }

  async markClientClosing(id: string, at: number): Promise<boolean> {
    return this.#write((_, st) => st.markClientClosing.run({ id, at }).changes > 0)
  }

  async forgetClosingClients(closedBefore: number): Promise<ClientRef[]> {
    const { db, st } = this.#open()
    return this.#durable(
      db
        .transaction((): ClientRef[] => {
          st.deleteCursorsOfClosingClients.run(closedBefore)
          return ids(st.deleteClosingClients.all(closedBefore))
        })
        .immediate(),
    )
  }

  async countClientsByState(seenSince: number): Promise<ClientStateCounts> {
    return (await this.#reader()).countClientsByState.get({ since: seenSince }) as ClientStateCounts
  }

  async saveCursors(
    entries: readonly Omit<CursorRecord, 'updatedAt'>[],
    now: number,
  ): Promise<void> {
    const { db, st } = this.#open()
    await this.#durable(
      db
        .transaction(() => {
          for (const e of entries)
            st.upsertCursor.run({
              clientId: e.clientId,
              stream: e.stream,
              epoch: e.epoch,
              offset: e.offset,
              now,
            })
        })
        .immediate(),
    )
  }

  async getCursors(clientId: string): Promise<CursorRecord[]> {
    const rows = (await this.#reader()).getCursors.all(clientId) as CursorRow[]
    return rows.map(toCursorRecord)
  }

  async getCursorsOfStream(stream: string): Promise<CursorRecord[]> {
    const rows = (await this.#reader()).getCursorsOfStream.all(stream) as CursorRow[]
    return rows.map(toCursorRecord)
  }

  async streamDelivery(
    stream: string,
    query: StreamDeliveryQuery,
  ): Promise<StreamDelivery | undefined> {
    const rows = (await this.#reader()).streamDelivery.all({
      stream,
      after: query.after ?? null,
      userId: query.userId ?? null,
      limit: Math.max(0, query.limit),
    }) as StreamDeliveryRow[]
    return toStreamDelivery(stream, rows)
  }

  async clientDelivery(
    clientId: string,
    query: ClientDeliveryQuery,
  ): Promise<ClientStreamDelivery[]> {
    const rows = (await this.#reader()).clientDelivery.all({
      clientId,
      after: query.after ?? null,
      limit: Math.max(0, query.limit),
    }) as ClientDeliveryRow[]
    return rows.map(toClientStreamDelivery)
  }

  async trim(name: string, request: TrimRequest): Promise<number> {
    const { db, st } = this.#open()
    const { maxAgeMs, untilAcked } = request.policy
    return this.#durable(
      db
        .transaction((): number => {
          const row = st.trimInputs.get({
            name,
            cutoff: maxAgeMs === undefined ? null : request.now - maxAgeMs,
            untilAcked: untilAcked === true ? 1 : 0,
          }) as
            (StreamRow & { youngest_cut: number | null; acked_through: number | null }) | undefined
          if (row === undefined) return 0
          const stream = toStreamRecord(row)
          const tail = trimmedTail(stream, request, {
            youngestCut: row.youngest_cut ?? undefined,
            ackedThrough: row.acked_through ?? undefined,
          })
          if (tail === stream.tail) return tail
          st.deleteMessagesBelow.run(name, tail)
          st.setTail.run(tail, name)
          return tail
        })
        .immediate(),
    )
  }

  async findUnread(query: UnreadQuery): Promise<UnreadEpisode[]> {
    const cap = unreadCountCap(query)
    const rows = (await this.#reader()).findUnread.all({
      offlineBefore: query.offlineBefore,
      committedBefore: query.committedBefore,
      afterUser: query.after?.user ?? null,
      afterStream: query.after?.stream ?? null,
      limit: Math.max(0, query.limit),
      maxCount: Number.isFinite(cap) ? cap : -1,
    }) as UnreadRow[]
    return rows.map(toUnreadEpisode)
  }

  async claimLease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const { db, st } = this.#open()
    // IMMEDIATE: the write lock first, so that nodes sharing the file claim one after the other.
    return this.#durable(
      db
        .transaction(() => st.claimLease.get({ name, holder, ttlMs, now }) !== undefined)
        .immediate(),
    )
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return this.#write((_, st) => st.releaseLease.run({ name, holder }).changes > 0)
  }

  async retentionHolders(stream: string, limit: number): Promise<RetentionHolder[]> {
    const rows = (await this.#reader()).retentionHolders.all({
      stream,
      limit: Math.max(0, limit),
    }) as {
      client_id: string
      user_id: string
      offset: number
      behind: number
      last_seen_at: number
    }[]
    return rows.map((row) => ({
      clientId: row.client_id,
      userId: row.user_id,
      offset: row.offset,
      behind: row.behind,
      lastSeenAt: row.last_seen_at,
    }))
  }

  /** Resolves with `result` once the write that produced it is on disk. */
  async #durable<T>(result: T): Promise<T> {
    if (this.#wal !== undefined) {
      this.#wal.wrote()
      await this.#wal.durable()
    }
    return result
  }

  /** Runs one write statement (its own transaction) and resolves once it is on disk. */
  async #write<T>(run: (db: Database.Database, st: Statements) => T): Promise<T> {
    const { db, st } = this.#open()
    return this.#durable(run(db, st))
  }

  /** The statements, once every commit a read could see is on disk. */
  async #reader(): Promise<Statements> {
    const wait = this.#wal?.beforeRead()
    if (wait !== undefined) await wait
    return this.#open().st
  }

  #open(): { db: Database.Database; st: Statements } {
    if (this.#db === undefined || this.#statements === undefined) {
      throw new SeqlineError(ErrorCode.INTERNAL, 'the SQLite store is not open: call init() first')
    }
    return { db: this.#db, st: this.#statements }
  }
}

/**
 * Creates the database file readable by the service user only (0600), in a directory it creates
 * 0700 — messages and client secrets' hashes live there. SQLite gives the `-wal` and `-shm` files
 * the database file's mode. An existing file keeps the mode its operator gave it.
 */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600))
}

/** The ids of `DELETE … RETURNING id` rows, in id order. */
function ids(rows: unknown[]): ClientRef[] {
  return (rows as { id: string; user_id: string }[])
    .map((row) => ({ id: row.id, userId: row.user_id }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function appendOne(st: Statements, request: AppendRequest): AppendResult {
  const malformed = checkAppendShape(request)
  if (malformed !== undefined) return malformed
  let stream = readStream(st, request.stream)
  const exists = stream !== undefined
  if (stream === undefined) {
    if (request.createIfMissing === undefined) {
      return {
        kind: 'rejected',
        code: ErrorCode.STREAM_NOT_FOUND,
        message: `stream ${request.stream} does not exist`,
      }
    }
    // Validated against the record it would create; inserted only if the request is accepted.
    stream = newStreamRecord(request.stream, request.createIfMissing.contentType, request.now)
  }
  const verdict = checkAppend(stream, request, {
    producer: (id) => readProducer(st, request.stream, id),
    offsetOf: (id, epoch, seq) =>
      (st.offsetOfPublish.get(request.stream, id, epoch, seq) as { offset: number | null })
        .offset ?? undefined,
  })
  if (verdict.kind !== 'accept') return verdict

  const plan = planAppend(stream, request)
  const producerEpoch = request.producer?.epoch ?? null
  for (const m of plan.messages) insertMessage(st, request.stream, m, producerEpoch)
  if (exists) st.updateStreamAfterAppend.run(streamParams(plan.stream))
  else st.insertStream.run(streamParams(plan.stream))
  if (request.producer !== undefined && plan.producer !== undefined) {
    const p = plan.producer
    st.upsertProducer.run(
      request.stream,
      request.producer.id,
      p.epoch,
      p.lastSeq,
      p.lastOffset,
      p.updatedAt,
    )
  }
  return plan.result
}

function insertMessage(
  st: Statements,
  stream: string,
  m: StoredMessage,
  producerEpoch: number | null,
): void {
  st.insertMessage.run(stream, m.offset, m.producer, producerEpoch, m.seq, m.from, m.ts, m.data)
}

function readStream(st: Statements, name: string): StreamRecord | undefined {
  const row = st.getStream.get(name) as StreamRow | undefined
  return row === undefined ? undefined : toStreamRecord(row)
}

function readProducer(st: Statements, stream: string, id: string): ProducerState | undefined {
  const row = st.getProducer.get(stream, id) as ProducerRow | undefined
  if (row === undefined) return undefined
  return {
    epoch: row.epoch,
    lastSeq: row.last_seq,
    lastOffset: row.last_offset,
    updatedAt: row.updated_at,
  }
}

function streamParams(s: StreamRecord): StreamRow {
  return {
    name: s.name,
    epoch: s.epoch,
    content_type: s.contentType,
    head: s.head,
    tail: s.tail,
    created_at: s.createdAt,
    closed: s.closed ? 1 : 0,
    closed_by_producer: s.closedBy?.id ?? null,
    closed_by_epoch: s.closedBy?.epoch ?? null,
    closed_by_seq: s.closedBy?.seq ?? null,
    ttl_seconds: s.ttlSeconds,
    expires_at: s.expiresAt,
    last_access_at: s.lastAccessAt,
    stream_seq: s.streamSeq,
    retention_max_age_ms: s.retention?.maxAgeMs ?? null,
    retention_max_count: s.retention?.maxCount ?? null,
    retention_until_acked: s.retention?.untilAcked === true ? 1 : 0,
    fork_source: s.fork?.source ?? null,
    fork_offset: s.fork?.offset ?? null,
    fork_sub_offset: s.fork?.subOffset ?? null,
    soft_deleted: s.softDeleted ? 1 : 0,
  }
}

function toStreamRecord(row: StreamRow): StreamRecord {
  return {
    name: row.name,
    epoch: row.epoch,
    contentType: row.content_type,
    head: row.head,
    tail: row.tail,
    createdAt: row.created_at,
    closed: row.closed !== 0,
    closedBy:
      row.closed_by_producer === null || row.closed_by_epoch === null || row.closed_by_seq === null
        ? null
        : { id: row.closed_by_producer, epoch: row.closed_by_epoch, seq: row.closed_by_seq },
    ttlSeconds: row.ttl_seconds,
    expiresAt: row.expires_at,
    lastAccessAt: row.last_access_at,
    streamSeq: row.stream_seq,
    retention: retentionOfColumns(
      row.retention_max_age_ms,
      row.retention_max_count,
      row.retention_until_acked !== 0,
    ),
    fork:
      row.fork_source === null
        ? null
        : {
            source: row.fork_source,
            offset: row.fork_offset ?? 0,
            subOffset: row.fork_sub_offset ?? 0,
          },
    softDeleted: row.soft_deleted !== 0,
  }
}

/** A `readMessages` row in raw mode: offset, producer, seq, from_user, ts, data. */
/**
 * The last offset of the page after `after`: at most `limit` messages and, past the first, at most
 * `maxBytes` payload bytes (see `Store.read`); `undefined` when there is no message after `after`.
 */
function pageEnd(
  st: Statements,
  name: string,
  after: number,
  limit: number,
  maxBytes: number,
): number | undefined {
  const whole = st.readPageSize.get({ name, after, limit }) as
    { bytes: number | null; last: number | null } | undefined
  if (whole?.last === null || whole?.last === undefined) return undefined
  if ((whole.bytes ?? 0) <= maxBytes) return whole.last
  const row = st.readPageEnd.get({ name, after, limit, maxBytes: Math.floor(maxBytes) }) as
    { last: number | null } | undefined
  return row?.last ?? undefined
}

type RawMessageRow = [number, string | null, number | null, string | null, number, Buffer]

function rawToStoredMessage(row: RawMessageRow): StoredMessage {
  const [offset, producer, seq, from, ts, data] = row
  return {
    offset,
    producer,
    seq,
    from,
    ts,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }
}

function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    offset: row.offset,
    producer: row.producer,
    seq: row.seq,
    from: row.from_user,
    ts: row.ts,
    // A plain Uint8Array view (no copy), so that both stores hand out the same type.
    data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
  }
}

function toClientRecord(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    userId: row.user_id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    closingAt: row.closing_at,
  }
}

function toCursorRecord(row: CursorRow): CursorRecord {
  return {
    clientId: row.client_id,
    stream: row.stream,
    epoch: row.epoch,
    offset: row.offset,
    updatedAt: row.updated_at,
  }
}
