import { ErrorCode } from '@seqline/protocol'
import type { SqlClient } from '../postgres/postgres-connection.js'
import {
  type AppendVerdict,
  checkAppend,
  checkAppendShape,
  newStreamRecord,
  planAppend,
} from './store-rules.js'
import {
  type ProducerRow,
  STREAM_COLUMNS,
  STREAM_COLUMN_TYPES,
  type StreamRow,
  streamValues,
  toBuffer,
  toProducerState,
  toStreamRecord,
} from './postgres-rows.js'
import type {
  AppendRequest,
  AppendResult,
  ProducerState,
  StoredMessage,
  StreamRecord,
} from './store.js'

// The append of `PostgresStore`, as a function of a connection that is already inside a
// transaction: the store runs it in its own group-commit transaction, `publishInTransaction` in
// the application's. Either way the stream rows, the message rows and the producer state commit
// (or roll back) together.

export type { SqlClient } from '../postgres/postgres-connection.js'

/**
 * Takes the per-stream locks of `names` for the rest of the transaction. A transaction-scoped
 * advisory lock per name (taken in one global order, so that two batches never deadlock) covers
 * streams that do not exist yet — two nodes creating the same stream with `createIfMissing` — and
 * is then joined by the stream row's own lock (`FOR UPDATE` in `appendInTransaction`).
 */
export async function lockStreams(db: SqlClient, names: readonly string[]): Promise<void> {
  if (names.length === 0) return
  await db.query(
    `SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended(n, 0) AS k FROM unnest($1::text[]) AS n ORDER BY 1
     ) AS locks`,
    [names],
  )
}

/**
 * Appends `batch` in the caller's transaction, in order, with the rules every store shares
 * (store-rules.ts). Offsets come from the stream row read under its lock, so concurrent
 * publishers on any number of nodes get gapless, unique offsets. Reads happen up front (one query
 * for the streams, one for the producers), writes at the end (one statement per table), so a
 * batch costs a handful of round trips whatever its size.
 */
export async function appendInTransaction(
  db: SqlClient,
  batch: readonly AppendRequest[],
): Promise<AppendResult[]> {
  const names = [
    ...new Set(batch.filter((r) => checkAppendShape(r) === undefined).map((r) => r.stream)),
  ].sort()
  await lockStreams(db, names)
  const { streams, producers } = await readState(db, names, batch)

  const results: AppendResult[] = []
  const touched = new Set<string>()
  const written: { stream: string; message: StoredMessage; producerEpoch: number | null }[] = []
  const producerWrites = new Map<string, { stream: string; id: string; state: ProducerState }>()
  const olderOffsets = new Map<string, number | undefined>()

  for (const request of batch) {
    const malformed = checkAppendShape(request)
    if (malformed !== undefined) {
      results.push(malformed)
      continue
    }
    let stream = streams.get(request.stream)
    if (stream === undefined) {
      if (request.createIfMissing === undefined) {
        results.push({
          kind: 'rejected',
          code: ErrorCode.STREAM_NOT_FOUND,
          message: `stream ${request.stream} does not exist`,
        })
        continue
      }
      // Validated against the record it would create; written only if the request is accepted.
      stream = newStreamRecord(request.stream, request.createIfMissing.contentType, request.now)
    }
    const verdict = await check(db, stream, request, producers, written, olderOffsets)
    if (verdict.kind !== 'accept') {
      results.push(verdict)
      continue
    }
    const plan = planAppend(stream, request)
    streams.set(request.stream, plan.stream)
    touched.add(request.stream)
    const producerEpoch = request.producer?.epoch ?? null
    for (const message of plan.messages) {
      written.push({ stream: request.stream, message, producerEpoch })
    }
    if (request.producer !== undefined && plan.producer !== undefined) {
      const key = producerKey(request.stream, request.producer.id)
      producers.set(key, plan.producer)
      producerWrites.set(key, {
        stream: request.stream,
        id: request.producer.id,
        state: plan.producer,
      })
    }
    results.push(plan.result)
  }

  if (touched.size > 0) {
    const records = [...touched].flatMap((name) => streams.get(name) ?? [])
    await writeState(db, written, records, [...producerWrites.values()])
  }
  return results
}

function producerKey(stream: string, id: string): string {
  return `${stream}\u0000${id}`
}

/**
 * Reads, in ONE statement, the rows an append batch needs: the streams (locked `FOR UPDATE`) and
 * the producer states of every (stream, producer) in the batch. One round trip less while the
 * stream locks are held; the statement's snapshot is taken after `lockStreams` returned, so it sees
 * every commit of the batches that held the locks before us.
 */
async function readState(
  db: SqlClient,
  names: readonly string[],
  batch: readonly AppendRequest[],
): Promise<{ streams: Map<string, StreamRecord>; producers: Map<string, ProducerState> }> {
  const streams = new Map<string, StreamRecord>()
  const producers = new Map<string, ProducerState>()
  if (names.length === 0) return { streams, producers }
  const pairs = new Map<string, { stream: string; id: string }>()
  for (const r of batch) {
    if (r.producer !== undefined) {
      pairs.set(producerKey(r.stream, r.producer.id), { stream: r.stream, id: r.producer.id })
    }
  }
  const list = [...pairs.values()]
  const { rows } = await db.query<{ kind: 's' | 'p'; row: StreamRow | ProducerStateRow }>(
    `WITH s AS (SELECT * FROM streams WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE)
     SELECT 's' AS kind, row_to_json(s) AS row FROM s
     UNION ALL
     SELECT 'p' AS kind, row_to_json(p) AS row FROM producers p
       JOIN unnest($2::text[], $3::text[]) AS k(stream, producer_id)
         ON p.stream = k.stream AND p.producer_id = k.producer_id`,
    [names, list.map((p) => p.stream), list.map((p) => p.id)],
  )
  for (const { kind, row } of rows) {
    if (kind === 's') {
      const stream = toStreamRecord(row as StreamRow)
      streams.set(stream.name, stream)
    } else {
      const state = row as ProducerStateRow
      producers.set(producerKey(state.stream, state.producer_id), toProducerState(state))
    }
  }
  return { streams, producers }
}

type ProducerStateRow = ProducerRow & { stream: string; producer_id: string }

/**
 * Writes an append batch in ONE statement (data-modifying CTEs): the message rows, the stream
 * rows (new or updated) and the producer states. The stream locks are held until COMMIT, so
 * fewer round trips here is more throughput for every node writing to the same streams.
 */
async function writeState(
  db: SqlClient,
  written: readonly { stream: string; message: StoredMessage; producerEpoch: number | null }[],
  records: readonly StreamRecord[],
  producerWrites: readonly { stream: string; id: string; state: ProducerState }[],
): Promise<void> {
  const rows = records.map(streamValues)
  const column = (i: number): unknown[] => rows.map((row) => row[i])
  const columns = STREAM_COLUMNS.map((_, i) => column(i))
  const base = 8
  const streamParams = STREAM_COLUMNS.map(
    (_, i) => `$${base + 1 + i}::${STREAM_COLUMN_TYPES[i] ?? 'text'}[]`,
  ).join(', ')
  const p = base + STREAM_COLUMNS.length
  await db.query(
    `WITH m AS (
       INSERT INTO messages (stream, msg_offset, producer, producer_epoch, seq, from_user, ts, data)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[],
         $6::text[], $7::bigint[], $8::bytea[])
     ), s AS (
       INSERT INTO streams (${STREAM_COLUMNS.join(', ')})
       SELECT * FROM unnest(${streamParams})
       ON CONFLICT (name) DO UPDATE SET
         ${STREAM_COLUMNS.slice(1)
           .map((c) => `${c} = EXCLUDED.${c}`)
           .join(', ')}
     ), p AS (
       INSERT INTO producers (stream, producer_id, epoch, last_seq, last_offset, updated_at)
       SELECT * FROM unnest($${p + 1}::text[], $${p + 2}::text[], $${p + 3}::bigint[],
         $${p + 4}::bigint[], $${p + 5}::bigint[], $${p + 6}::bigint[])
       ON CONFLICT (stream, producer_id) DO UPDATE SET epoch = EXCLUDED.epoch,
         last_seq = EXCLUDED.last_seq, last_offset = EXCLUDED.last_offset,
         updated_at = EXCLUDED.updated_at
     )
     SELECT 1`,
    [
      written.map((w) => w.stream),
      written.map((w) => w.message.offset),
      written.map((w) => w.message.producer),
      written.map((w) => w.producerEpoch),
      written.map((w) => w.message.seq),
      written.map((w) => w.message.from),
      written.map((w) => w.message.ts),
      written.map((w) => toBuffer(w.message.data)),
      ...columns,
      producerWrites.map((r) => r.stream),
      producerWrites.map((r) => r.id),
      producerWrites.map((r) => r.state.epoch),
      producerWrites.map((r) => r.state.lastSeq),
      producerWrites.map((r) => r.state.lastOffset),
      producerWrites.map((r) => r.state.updatedAt),
    ],
  )
}

/**
 * `checkAppend` with its lookups. The rules are synchronous; the offset of an older duplicate is
 * not known up front (it is rarely needed), so a lookup that misses records the question, the
 * query runs, and the pure check runs again with the answer.
 */
async function check(
  db: SqlClient,
  stream: StreamRecord,
  request: AppendRequest,
  producers: ReadonlyMap<string, ProducerState>,
  written: readonly { stream: string; message: StoredMessage; producerEpoch: number | null }[],
  olderOffsets: Map<string, number | undefined>,
): Promise<AppendVerdict> {
  for (;;) {
    // A holder, not a `let`: TypeScript does not see assignments made inside the callback.
    const ask: { missing?: { key: string; id: string; epoch: number; seq: number } } = {}
    const verdict = checkAppend(stream, request, {
      producer: (id) => producers.get(producerKey(request.stream, id)),
      offsetOf: (id, epoch, seq) => {
        // A publish written earlier in this batch is not in the table yet.
        for (let i = written.length - 1; i >= 0; i--) {
          const w = written[i]
          if (
            w !== undefined &&
            w.stream === request.stream &&
            w.message.producer === id &&
            w.producerEpoch === epoch &&
            w.message.seq === seq
          ) {
            return w.message.offset
          }
        }
        const key = `${request.stream}\u0000${id}\u0000${epoch}\u0000${seq}`
        if (olderOffsets.has(key)) return olderOffsets.get(key)
        ask.missing = { key, id, epoch, seq }
        return undefined
      },
    })
    const missing = ask.missing
    if (missing === undefined) return verdict
    const { rows } = await db.query<{ offset: string | number | null }>(
      `SELECT MAX(msg_offset) AS offset FROM messages
       WHERE stream = $1 AND producer = $2 AND producer_epoch = $3 AND seq = $4`,
      [request.stream, missing.id, missing.epoch, missing.seq],
    )
    const offset = rows[0]?.offset
    olderOffsets.set(
      missing.key,
      offset === null || offset === undefined ? undefined : Number(offset),
    )
  }
}
