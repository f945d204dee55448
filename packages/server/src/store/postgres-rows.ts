import { retentionOfColumns } from './store-rules.js'
import type {
  ClientRecord,
  CursorRecord,
  ProducerState,
  StoredMessage,
  StreamRecord,
} from './store.js'

// Rows of the PostgreSQL schema (postgres-schema.ts) and their mapping to Store records. BIGINT
// columns arrive as strings from node-postgres (unless a type parser says otherwise, which an
// application's own client passed to `publishInTransaction` may do): every number goes through
// `Number()`, which accepts both.

type Bigint = string | number

/** A streams row. */
export interface StreamRow {
  name: string
  epoch: string
  content_type: string
  head: Bigint
  tail: Bigint
  created_at: Bigint
  closed: boolean
  closed_by_producer: string | null
  closed_by_epoch: Bigint | null
  closed_by_seq: Bigint | null
  ttl_seconds: Bigint | null
  expires_at: Bigint | null
  last_access_at: Bigint
  stream_seq: string | null
  retention_max_age_ms: Bigint | null
  retention_max_count: Bigint | null
  retention_until_acked: boolean
  fork_source: string | null
  fork_offset: Bigint | null
  fork_sub_offset: Bigint | null
  soft_deleted: boolean
}

/** A messages row (without the stream and producer epoch columns). */
export interface MessageRow {
  msg_offset: Bigint
  producer: string | null
  seq: Bigint | null
  from_user: string | null
  ts: Bigint
  data: Buffer
}

export interface ProducerRow {
  epoch: Bigint
  last_seq: Bigint
  last_offset: Bigint
  updated_at: Bigint
}

export interface ClientRow {
  id: string
  user_id: string
  secret_hash: string
  created_at: Bigint
  last_seen_at: Bigint
  closing_at: Bigint | null
}

export interface CursorRow {
  client_id: string
  stream: string
  epoch: string
  acked_offset: Bigint
  updated_at: Bigint
}

/** The columns of `streams`, in the order `streamValues` lists them. */
export const STREAM_COLUMNS = [
  'name',
  'epoch',
  'content_type',
  'head',
  'tail',
  'created_at',
  'closed',
  'closed_by_producer',
  'closed_by_epoch',
  'closed_by_seq',
  'ttl_seconds',
  'expires_at',
  'last_access_at',
  'stream_seq',
  'retention_max_age_ms',
  'retention_max_count',
  'retention_until_acked',
  'fork_source',
  'fork_offset',
  'fork_sub_offset',
  'soft_deleted',
] as const

/** The SQL type of each of `STREAM_COLUMNS` (for `unnest` of parallel arrays). */
export const STREAM_COLUMN_TYPES: readonly string[] = [
  'text',
  'text',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'boolean',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'text',
  'bigint',
  'bigint',
  'boolean',
  'text',
  'bigint',
  'bigint',
  'boolean',
]

/** `INSERT INTO streams … ON CONFLICT (name) DO UPDATE` of one full row ($1 … $21). */
export const UPSERT_STREAM_SQL = `
  INSERT INTO streams (${STREAM_COLUMNS.join(', ')})
  VALUES (${STREAM_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (name) DO UPDATE SET
  ${STREAM_COLUMNS.slice(1)
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ')}`

/** The parameters of `UPSERT_STREAM_SQL` for a record. */
export function streamValues(s: StreamRecord): unknown[] {
  return [
    s.name,
    s.epoch,
    s.contentType,
    s.head,
    s.tail,
    s.createdAt,
    s.closed,
    s.closedBy?.id ?? null,
    s.closedBy?.epoch ?? null,
    s.closedBy?.seq ?? null,
    s.ttlSeconds,
    s.expiresAt,
    s.lastAccessAt,
    s.streamSeq,
    s.retention?.maxAgeMs ?? null,
    s.retention?.maxCount ?? null,
    s.retention?.untilAcked === true,
    s.fork?.source ?? null,
    s.fork?.offset ?? null,
    s.fork?.subOffset ?? null,
    s.softDeleted,
  ]
}

function num(value: Bigint): number {
  return Number(value)
}

function numOrNull(value: Bigint | null): number | null {
  return value === null ? null : Number(value)
}

export function toStreamRecord(row: StreamRow): StreamRecord {
  return {
    name: row.name,
    epoch: row.epoch,
    contentType: row.content_type,
    head: num(row.head),
    tail: num(row.tail),
    createdAt: num(row.created_at),
    closed: row.closed,
    closedBy:
      row.closed_by_producer === null || row.closed_by_epoch === null || row.closed_by_seq === null
        ? null
        : {
            id: row.closed_by_producer,
            epoch: num(row.closed_by_epoch),
            seq: num(row.closed_by_seq),
          },
    ttlSeconds: numOrNull(row.ttl_seconds),
    expiresAt: numOrNull(row.expires_at),
    lastAccessAt: num(row.last_access_at),
    streamSeq: row.stream_seq,
    retention: retentionOfColumns(
      numOrNull(row.retention_max_age_ms),
      numOrNull(row.retention_max_count),
      row.retention_until_acked,
    ),
    fork:
      row.fork_source === null
        ? null
        : {
            source: row.fork_source,
            offset: numOrNull(row.fork_offset) ?? 0,
            subOffset: numOrNull(row.fork_sub_offset) ?? 0,
          },
    softDeleted: row.soft_deleted,
  }
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    offset: num(row.msg_offset),
    producer: row.producer,
    seq: numOrNull(row.seq),
    from: row.from_user,
    ts: num(row.ts),
    // A plain Uint8Array view (no copy), so that every store hands out the same type.
    data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
  }
}

export function toProducerState(row: ProducerRow): ProducerState {
  return {
    epoch: num(row.epoch),
    lastSeq: num(row.last_seq),
    lastOffset: num(row.last_offset),
    updatedAt: num(row.updated_at),
  }
}

export function toClientRecord(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    userId: row.user_id,
    secretHash: row.secret_hash,
    createdAt: num(row.created_at),
    lastSeenAt: num(row.last_seen_at),
    closingAt: numOrNull(row.closing_at),
  }
}

export function toCursorRecord(row: CursorRow): CursorRecord {
  return {
    clientId: row.client_id,
    stream: row.stream,
    epoch: row.epoch,
    offset: num(row.acked_offset),
    updatedAt: num(row.updated_at),
  }
}

/** Bytes as a Buffer for node-postgres (a view, no copy). */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}
