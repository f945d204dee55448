import type pg from 'pg'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import {
  forkReadThrough,
  newStreamRecord,
  planAppend,
  planFork,
  sameStreamConfig,
  trimmedTail,
  unreadCountCap,
} from './store-rules.js'
import { createPostgresPool, type SqlClient } from '../postgres/postgres-connection.js'
import { appendInTransaction, lockStreams } from './postgres-append.js'
import {
  type ClientRow,
  type CursorRow,
  type MessageRow,
  type ProducerRow,
  type StreamRow,
  UPSERT_STREAM_SQL,
  streamValues,
  toBuffer,
  toClientRecord,
  toCursorRecord,
  toProducerState,
  toStoredMessage,
  toStreamRecord,
} from './postgres-rows.js'
import { migratePostgres } from './postgres-schema.js'
import {
  type ClientDeliveryRow,
  type StreamDeliveryRow,
  toClientStreamDelivery,
  toStreamDelivery,
} from './delivery-rows.js'
import { jsonArrayChunk } from './json-array-chunk.js'
import { FIND_UNREAD_SQL } from './postgres-unread.js'
import { type UnreadRow, toUnreadEpisode } from './unread-rows.js'
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

/** Options of `PostgresStore`. */
export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:5432/db` (node-postgres syntax). */
  readonly connectionString: string
  /**
   * Schema the tables live in (created if needed). Default: the connection's `search_path`
   * (normally `public`). Several Seqline deployments can share one database this way.
   */
  readonly schema?: string | undefined
  /** Connections in this node's pool. */
  readonly poolSize?: number | undefined
  /** Run the migrations in `init()`. Set false when an operator runs `seqline migrate` instead. */
  readonly migrate?: boolean | undefined
  /** Attempts of a transaction that failed on a deadlock or serialization error. */
  readonly maxRetries?: number | undefined
}

/** Defaults of `PostgresStoreOptions`. */
export const postgresStoreDefaults = {
  poolSize: 10,
  migrate: true,
  maxRetries: 5,
} as const

// SQLSTATEs worth retrying the whole transaction for: serialization failure, deadlock detected.
const RETRYABLE = new Set(['40001', '40P01'])
const FOREIGN_KEY_VIOLATION = '23503'

/**
 * The production `Store`: PostgreSQL through node-postgres, shared by any number of Seqline
 * nodes. A `Store.append` batch is one transaction (group commit, DESIGN §3); offsets are assigned
 * under a per-stream lock in the same transaction as the message rows and the producer state, so
 * publishers on different nodes writing to one stream get gapless, unique offsets (G2, G4).
 * Retention and client GC are plain set-based statements under the same locks, safe to run on
 * every node at once. Durability (G1) is PostgreSQL's: `append` resolves after COMMIT, which with
 * the default `synchronous_commit = on` has flushed the WAL.
 *
 * @example
 * const store = new PostgresStore({ connectionString: 'postgres://seqline@db/seqline' })
 * await store.init()
 */
export class PostgresStore implements Store {
  readonly #options: PostgresStoreOptions
  #pool: pg.Pool | undefined

  constructor(options: PostgresStoreOptions) {
    this.#options = options
  }

  /** The schema option, for the bus and `publishInTransaction` that share this database. */
  get schema(): string | undefined {
    return this.#options.schema
  }

  async init(): Promise<void> {
    if (this.#pool !== undefined) return
    const schema = this.#options.schema
    // The schema goes into every connection's search_path, so no statement names it.
    const pool = createPostgresPool({
      connectionString: this.#options.connectionString,
      schema,
      max: this.#options.poolSize ?? postgresStoreDefaults.poolSize,
    })
    try {
      if (this.#options.migrate ?? postgresStoreDefaults.migrate) {
        const client = await pool.connect()
        try {
          await migratePostgres(client, schema)
        } finally {
          client.release()
        }
      }
    } catch (err) {
      await pool.end().catch(() => undefined)
      throw err
    }
    this.#pool = pool
  }

  async close(): Promise<void> {
    const pool = this.#pool
    this.#pool = undefined
    await pool?.end()
  }

  async createStream(input: CreateStreamInput): Promise<CreateStreamResult> {
    return this.#transaction(async (db) => {
      const names = [input.name, ...(input.fork === undefined ? [] : [input.fork.source])]
      await lockStreams(db, names)
      const existing = await readStream(db, input.name, true)
      if (existing !== undefined) {
        return { kind: sameStreamConfig(existing, input) ? 'exists' : 'conflict', stream: existing }
      }
      let stream = newStreamRecord(input.name, input.contentType, input.now, input)
      const messages: StoredMessage[] = []
      if (input.fork !== undefined) {
        const source = await readStream(db, input.fork.source, true)
        const read =
          source === undefined
            ? []
            : await readMessages(db, input.fork.source, 0, forkReadThrough(source, input.fork))
        const plan = planFork(source, { ...input, fork: input.fork }, read)
        if (plan.kind === 'rejected') return plan
        stream = plan.stream
        messages.push(...plan.messages)
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
        messages.push(...plan.messages)
      }
      if (input.closed === true) stream = { ...stream, closed: true }
      await db.query(UPSERT_STREAM_SQL, streamValues(stream))
      await insertMessages(db, input.name, messages)
      return { kind: 'created', stream }
    })
  }

  async getStream(name: string): Promise<StreamRecord | undefined> {
    return readStream(this.#open(), name, false)
  }

  async getHeads(names: readonly string[]): Promise<Map<string, StreamHead>> {
    const heads = new Map<string, StreamHead>()
    if (names.length === 0) return heads
    const { rows } = await this.#open().query<{ name: string; epoch: string; head: string }>(
      'SELECT name, epoch, head FROM streams WHERE name = ANY($1::text[]) AND NOT soft_deleted',
      [names],
    )
    for (const row of rows) heads.set(row.name, { epoch: row.epoch, head: Number(row.head) })
    return heads
  }

  async deleteStream(name: string): Promise<boolean> {
    return this.#transaction(async (db) => {
      await lockStreams(db, [name])
      const stream = await readStream(db, name, true)
      if (stream === undefined || stream.softDeleted) return false
      await db.query('DELETE FROM messages WHERE stream = $1', [name])
      await db.query('DELETE FROM producers WHERE stream = $1', [name])
      await db.query('DELETE FROM cursors WHERE stream = $1', [name])
      if (await hasForks(db, name)) {
        // Forks still name it as their source: keep a tombstone (Durable Streams §4.2).
        await db.query('UPDATE streams SET soft_deleted = TRUE WHERE name = $1', [name])
        return true
      }
      await db.query('DELETE FROM streams WHERE name = $1', [name])
      // Cascade: a soft-deleted source whose last fork this was goes too, up the chain.
      let source = stream.fork?.source
      while (source !== undefined) {
        const record = await readStream(db, source, true)
        if (record === undefined || !record.softDeleted || (await hasForks(db, source))) break
        await db.query('DELETE FROM streams WHERE name = $1', [source])
        source = record.fork?.source
      }
      return true
    })
  }

  async expiredStreams(now: number, limit: number): Promise<string[]> {
    const { rows } = await this.#open().query<{ name: string }>(
      `SELECT name FROM streams
       WHERE (ttl_seconds IS NOT NULL OR expires_at IS NOT NULL) AND NOT soft_deleted
         AND (expires_at <= $1 OR last_access_at + ttl_seconds * 1000 <= $1)
       ORDER BY name LIMIT $2`,
      [now, Math.max(0, limit)],
    )
    return rows.map((row) => row.name)
  }

  async listStreams(after: string | undefined, limit: number): Promise<StreamRecord[]> {
    const { rows } = await this.#open().query<StreamRow>(
      'SELECT * FROM streams WHERE $1::text IS NULL OR name > $1 ORDER BY name LIMIT $2',
      [after ?? null, Math.max(0, limit)],
    )
    return rows.map(toStreamRecord)
  }

  async touchStream(name: string, now: number): Promise<void> {
    await this.#open().query(
      'UPDATE streams SET last_access_at = $2 WHERE name = $1 AND last_access_at < $2',
      [name, now],
    )
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    if (batch.length === 0) return []
    // The engine announces the commit on its bus once this resolves (ClusterLink.announce).
    return this.#transaction((db) => appendInTransaction(db, batch))
  }

  async read(
    name: string,
    after: number,
    limit: number,
    maxBytes?: number,
  ): Promise<StoredMessage[]> {
    if (limit <= 0) return []
    if (maxBytes === undefined || !Number.isFinite(maxBytes)) {
      const { rows } = await this.#open().query<MessageRow>(
        `SELECT msg_offset, producer, seq, from_user, ts, data FROM messages
         WHERE stream = $1 AND msg_offset > $2 ORDER BY msg_offset LIMIT $3`,
        [name, Math.floor(after), limit],
      )
      return rows.map(toStoredMessage)
    }
    // The page's end is found from the payload sizes alone (`octet_length` reads no TOASTed
    // payload): only the payloads that fit are loaded and sent to this process.
    const { rows } = await this.#open().query<MessageRow>(
      `SELECT msg_offset, producer, seq, from_user, ts, data FROM messages
       WHERE stream = $1 AND msg_offset > $2 AND msg_offset <= (
         SELECT max(msg_offset) FROM (
           SELECT msg_offset,
                  sum(size) OVER (ORDER BY msg_offset ROWS UNBOUNDED PRECEDING) AS upto,
                  row_number() OVER (ORDER BY msg_offset) AS n
           FROM (SELECT msg_offset, octet_length(data) AS size FROM messages
                 WHERE stream = $1 AND msg_offset > $2 ORDER BY msg_offset LIMIT $3) AS page
         ) AS sized
         WHERE n = 1 OR upto <= $4)
       ORDER BY msg_offset`,
      [name, Math.floor(after), limit, Math.floor(maxBytes)],
    )
    return rows.map(toStoredMessage)
  }

  async readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    return jsonArrayChunk(await this.read(name, after, limit, maxBytes), maxBytes)
  }

  async getProducer(stream: string, producerId: string): Promise<ProducerState | undefined> {
    const { rows } = await this.#open().query<ProducerRow>(
      'SELECT * FROM producers WHERE stream = $1 AND producer_id = $2',
      [stream, producerId],
    )
    const row = rows[0]
    return row === undefined ? undefined : toProducerState(row)
  }

  async gcProducers(updatedBefore: number): Promise<number> {
    const { rowCount } = await this.#open().query('DELETE FROM producers WHERE updated_at < $1', [
      updatedBefore,
    ])
    return rowCount ?? 0
  }

  async createClient(record: NewClientRecord): Promise<void> {
    await this.createClients([record])
  }

  async createClients(records: readonly NewClientRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.#transaction(async (db) => {
      // A taken id (or one given twice) is skipped by DO NOTHING: fewer rows than records.
      const { rowCount } = await db.query(
        `INSERT INTO clients (id, user_id, secret_hash, created_at, last_seen_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
         ON CONFLICT (id) DO NOTHING`,
        [
          records.map((r) => r.id),
          records.map((r) => r.userId),
          records.map((r) => r.secretHash),
          records.map((r) => r.createdAt),
          records.map((r) => r.lastSeenAt),
        ],
      )
      if ((rowCount ?? 0) < records.length) {
        // Throwing rolls the whole batch back.
        const taken = records.length === 1 ? `client ${records[0]?.id}` : 'a client'
        throw new SeqlineError(ErrorCode.CONFLICT, `${taken} already exists`)
      }
    })
  }

  async getClient(id: string): Promise<ClientRecord | undefined> {
    const { rows } = await this.#open().query<ClientRow>('SELECT * FROM clients WHERE id = $1', [
      id,
    ])
    const row = rows[0]
    return row === undefined ? undefined : toClientRecord(row)
  }

  async countClientsOfUser(userId: string): Promise<number> {
    const { rows } = await this.#open().query<{ n: string }>(
      'SELECT COUNT(*) AS n FROM clients WHERE user_id = $1',
      [userId],
    )
    return Number(rows[0]?.n ?? 0)
  }

  async touchClients(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return
    await this.#open().query(
      'UPDATE clients SET last_seen_at = $2 WHERE id = ANY($1::text[]) AND last_seen_at < $2',
      [[...ids], now],
    )
  }

  async deleteClient(id: string): Promise<boolean> {
    // Its cursors go with it (ON DELETE CASCADE).
    const { rowCount } = await this.#open().query('DELETE FROM clients WHERE id = $1', [id])
    return (rowCount ?? 0) > 0
  }

  async updateClientSecret(id: string, secretHash: string): Promise<boolean> {
    const { rowCount } = await this.#open().query(
      'UPDATE clients SET secret_hash = $2 WHERE id = $1',
      [id, secretHash],
    )
    return (rowCount ?? 0) > 0
  }

  async gcClients(seenBefore: number): Promise<ClientRef[]> {
    // Their cursors go with them (ON DELETE CASCADE).
    const { rows } = await this.#open().query<{ id: string; user_id: string }>(
      'DELETE FROM clients WHERE last_seen_at < $1 RETURNING id, user_id',
      [seenBefore],
    )
    return refs(rows)
  }

  async markClientClosing(id: string, at: number): Promise<boolean> {
    const { rowCount } = await this.#open().query(
      'UPDATE clients SET closing_at = $2 WHERE id = $1',
      [id, at],
    )
    return (rowCount ?? 0) > 0
  }

  async forgetClosingClients(closedBefore: number): Promise<ClientRef[]> {
    const { rows } = await this.#open().query<{ id: string; user_id: string }>(
      `DELETE FROM clients WHERE closing_at <= $1 AND last_seen_at <= closing_at
       RETURNING id, user_id`,
      [closedBefore],
    )
    return refs(rows)
  }

  async countClientsByState(seenSince: number): Promise<ClientStateCounts> {
    const { rows } = await this.#open().query<Record<keyof ClientStateCounts, string>>(
      `SELECT count(*) FILTER (WHERE closing) AS closing,
         count(*) FILTER (WHERE NOT closing AND last_seen_at >= $1) AS active,
         count(*) FILTER (WHERE NOT closing AND last_seen_at < $1) AS idle
       FROM (SELECT closing_at IS NOT NULL AND last_seen_at <= closing_at AS closing,
               last_seen_at FROM clients) AS c`,
      [seenSince],
    )
    const row = rows[0]
    return {
      active: Number(row?.active ?? 0),
      idle: Number(row?.idle ?? 0),
      closing: Number(row?.closing ?? 0),
    }
  }

  async saveCursors(
    entries: readonly Omit<CursorRecord, 'updatedAt'>[],
    now: number,
  ): Promise<void> {
    if (entries.length === 0) return
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#transaction(async (db) => {
          // In order: a later entry of the same (client, stream) sees the earlier one.
          for (const e of entries) {
            await db.query(
              `INSERT INTO cursors (client_id, stream, epoch, acked_offset, updated_at)
               SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM clients WHERE id = $1)
               ON CONFLICT (client_id, stream) DO UPDATE SET epoch = EXCLUDED.epoch,
                 acked_offset = EXCLUDED.acked_offset, updated_at = EXCLUDED.updated_at
               WHERE cursors.epoch <> EXCLUDED.epoch OR EXCLUDED.acked_offset > cursors.acked_offset`,
              [e.clientId, e.stream, e.epoch, e.offset, now],
            )
          }
        })
        return
      } catch (err) {
        // A client garbage-collected by another node between our EXISTS and the insert: run the
        // batch again, which now skips that client's entries.
        if (sqlState(err) !== FOREIGN_KEY_VIOLATION || attempt >= 3) throw err
      }
    }
  }

  async getCursors(clientId: string): Promise<CursorRecord[]> {
    const { rows } = await this.#open().query<CursorRow>(
      'SELECT * FROM cursors WHERE client_id = $1 ORDER BY stream',
      [clientId],
    )
    return rows.map(toCursorRecord)
  }

  async getCursorsOfStream(stream: string): Promise<CursorRecord[]> {
    const { rows } = await this.#open().query<CursorRow>(
      'SELECT * FROM cursors WHERE stream = $1 ORDER BY client_id',
      [stream],
    )
    return rows.map(toCursorRecord)
  }

  async streamDelivery(
    stream: string,
    query: StreamDeliveryQuery,
  ): Promise<StreamDelivery | undefined> {
    // One row per cursor of the page, or one row with NULL cursor columns when it is empty.
    const { rows } = await this.#open().query<StreamDeliveryRow>(
      `SELECT s.epoch AS stream_epoch, s.head, s.tail, f.client_id, f.user_id, f.epoch,
         f.acked_offset AS offset, f.updated_at
       FROM streams s
       LEFT JOIN LATERAL (
         SELECT c.client_id, cl.user_id, c.epoch, c.acked_offset, c.updated_at
         FROM cursors c JOIN clients cl ON cl.id = c.client_id
         WHERE c.stream = s.name AND ($2::text IS NULL OR c.client_id > $2)
           AND ($3::text IS NULL OR cl.user_id = $3)
         ORDER BY c.client_id LIMIT $4
       ) f ON TRUE
       WHERE s.name = $1 AND NOT s.soft_deleted
       ORDER BY f.client_id`,
      [stream, query.after ?? null, query.userId ?? null, Math.max(0, query.limit)],
    )
    return toStreamDelivery(stream, rows)
  }

  async clientDelivery(
    clientId: string,
    query: ClientDeliveryQuery,
  ): Promise<ClientStreamDelivery[]> {
    const { rows } = await this.#open().query<ClientDeliveryRow>(
      `SELECT c.stream, c.epoch, c.acked_offset AS offset, c.updated_at,
         s.epoch AS stream_epoch, s.head, s.tail
       FROM cursors c LEFT JOIN streams s ON s.name = c.stream AND NOT s.soft_deleted
       WHERE c.client_id = $1 AND ($2::text IS NULL OR c.stream > $2)
       ORDER BY c.stream LIMIT $3`,
      [clientId, query.after ?? null, Math.max(0, query.limit)],
    )
    return rows.map(toClientStreamDelivery)
  }

  async trim(name: string, request: TrimRequest): Promise<number> {
    const { maxAgeMs, untilAcked } = request.policy
    return this.#transaction(async (db) => {
      // One statement reads the stream under its row lock (which orders the trim with appends
      // and with the same trim on other nodes) and what the trim depends on: the first message
      // young enough, and the lowest cursor of the clients following the stream.
      const { rows } = await db.query<
        StreamRow & { youngest_cut: string | null; acked_through: string | null }
      >(
        `SELECT s.*,
           CASE WHEN $2::bigint IS NULL THEN NULL ELSE (
             SELECT msg_offset FROM messages WHERE stream = s.name AND ts >= $2::bigint
             ORDER BY msg_offset LIMIT 1) END AS youngest_cut,
           CASE WHEN $3::boolean THEN (
             SELECT min(c.acked_offset) FROM cursors c
             WHERE c.stream = s.name AND c.epoch = s.epoch) END AS acked_through
         FROM streams s WHERE s.name = $1 FOR UPDATE OF s`,
        [name, maxAgeMs === undefined ? null : request.now - maxAgeMs, untilAcked === true],
      )
      const row = rows[0]
      if (row === undefined) return 0
      const stream = toStreamRecord(row)
      const tail = trimmedTail(stream, request, {
        youngestCut: row.youngest_cut === null ? undefined : Number(row.youngest_cut),
        ackedThrough: row.acked_through === null ? undefined : Number(row.acked_through),
      })
      if (tail === stream.tail) return tail
      await db.query(
        `WITH trimmed AS (DELETE FROM messages WHERE stream = $1 AND msg_offset < $2)
         UPDATE streams SET tail = $2 WHERE name = $1`,
        [name, tail],
      )
      return tail
    })
  }

  async retentionHolders(stream: string, limit: number): Promise<RetentionHolder[]> {
    const { rows } = await this.#open().query<{
      client_id: string
      user_id: string
      acked_offset: string
      behind: string
      last_seen_at: string
    }>(
      `SELECT c.client_id, cl.user_id, c.acked_offset, s.head - c.acked_offset AS behind,
         cl.last_seen_at
       FROM streams s
       JOIN cursors c ON c.stream = s.name AND c.epoch = s.epoch
       JOIN clients cl ON cl.id = c.client_id
       WHERE s.name = $1 AND c.acked_offset < s.head
       ORDER BY c.acked_offset, c.client_id LIMIT $2`,
      [stream, Math.max(0, limit)],
    )
    return rows.map((row) => ({
      clientId: row.client_id,
      userId: row.user_id,
      offset: Number(row.acked_offset),
      behind: Number(row.behind),
      lastSeenAt: Number(row.last_seen_at),
    }))
  }

  async claimLease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    // One statement: of nodes claiming at once, the first insert wins and the others see its row
    // (ON CONFLICT waits for it, then re-checks the WHERE on the row as committed).
    const { rows } = await this.#open().query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3::bigint + $4::bigint)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= $3::bigint
       RETURNING holder`,
      [name, holder, now, ttlMs],
    )
    return rows.length > 0
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    const { rowCount } = await this.#open().query(
      'DELETE FROM leases WHERE name = $1 AND holder = $2',
      [name, holder],
    )
    return (rowCount ?? 0) > 0
  }

  async findUnread(query: UnreadQuery): Promise<UnreadEpisode[]> {
    const cap = unreadCountCap(query)
    const { rows } = await this.#open().query<UnreadRow>(FIND_UNREAD_SQL, [
      query.offlineBefore,
      query.committedBefore,
      query.after?.user ?? null,
      query.after?.stream ?? null,
      Math.max(0, query.limit),
      Number.isFinite(cap) ? cap : null,
    ])
    return rows.map(toUnreadEpisode)
  }

  /**
   * Runs `work` in a transaction on one pooled connection; retries the whole transaction on a
   * deadlock or serialization failure (PostgreSQL aborts one side, which may simply run again).
   */
  async #transaction<T>(work: (db: SqlClient) => Promise<T>): Promise<T> {
    const pool = this.#open()
    const maxRetries = this.#options.maxRetries ?? postgresStoreDefaults.maxRetries
    for (let attempt = 0; ; attempt++) {
      const client = await pool.connect()
      let broken = false
      try {
        await client.query('BEGIN')
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (err) {
        try {
          await client.query('ROLLBACK')
        } catch {
          broken = true
        }
        if (!RETRYABLE.has(sqlState(err) ?? '') || attempt >= maxRetries) throw err
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: drop it from the pool.
        client.release(broken)
      }
    }
  }

  #open(): pg.Pool {
    if (this.#pool === undefined) {
      throw new SeqlineError(
        ErrorCode.INTERNAL,
        'the PostgreSQL store is not open: call init() first',
      )
    }
    return this.#pool
  }
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

async function readStream(
  db: SqlClient,
  name: string,
  forUpdate: boolean,
): Promise<StreamRecord | undefined> {
  const { rows } = await db.query<StreamRow>(
    `SELECT * FROM streams WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  )
  const row = rows[0]
  return row === undefined ? undefined : toStreamRecord(row)
}

async function readMessages(
  db: SqlClient,
  name: string,
  after: number,
  through: number,
): Promise<StoredMessage[]> {
  const { rows } = await db.query<MessageRow>(
    `SELECT msg_offset, producer, seq, from_user, ts, data FROM messages
     WHERE stream = $1 AND msg_offset > $2 AND msg_offset <= $3 ORDER BY msg_offset`,
    [name, after, through],
  )
  return rows.map(toStoredMessage)
}

async function insertMessages(
  db: SqlClient,
  name: string,
  messages: readonly StoredMessage[],
): Promise<void> {
  if (messages.length === 0) return
  await db.query(
    `INSERT INTO messages (stream, msg_offset, producer, producer_epoch, seq, from_user, ts, data)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
       $7::bigint[], $8::bytea[])`,
    [
      name,
      messages.map((m) => m.offset),
      messages.map((m) => m.producer),
      // Fork copies and initial messages carry no producer (Durable Streams §4.2).
      messages.map(() => null),
      messages.map((m) => m.seq),
      messages.map((m) => m.from),
      messages.map((m) => m.ts),
      messages.map((m) => toBuffer(m.data)),
    ],
  )
}

async function hasForks(db: SqlClient, name: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM streams WHERE fork_source = $1 LIMIT 1', [name])
  return rows.length > 0
}

/** Deleted clients, in id order (the order every store answers in). */
function refs(rows: readonly { id: string; user_id: string }[]): ClientRef[] {
  return rows
    .map((row) => ({ id: row.id, userId: row.user_id }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
