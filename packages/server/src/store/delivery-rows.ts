import { cursorLag } from './store-rules.js'
import type { ClientStreamDelivery, FollowerPosition, StreamDelivery } from './store.js'

// The rows of the delivery-state queries (`Store.streamDelivery`, `Store.clientDelivery`), the
// same on SQLite and PostgreSQL, and their mapping to records. Numbers may arrive as strings
// (PostgreSQL BIGINT): every one goes through `Number()`.

type Num = number | string

/**
 * A `streamDelivery` row: the stream's columns and one cursor's, all cursor columns NULL on the
 * one row of a stream without cursors (in the page).
 */
export interface StreamDeliveryRow {
  stream_epoch: string
  head: Num
  tail: Num
  client_id?: string | null
  user_id?: string | null
  epoch?: string | null
  offset?: Num | null
  updated_at?: Num | null
}

/** A `clientDelivery` row: one cursor, and its stream's columns (NULL when it is gone). */
export interface ClientDeliveryRow {
  stream: string
  epoch: string
  offset: Num
  updated_at: Num
  stream_epoch: string | null
  head: Num | null
  tail: Num | null
}

/** The delivery state of `stream` from its rows; `undefined` when there is none (no stream). */
export function toStreamDelivery(
  stream: string,
  rows: readonly StreamDeliveryRow[],
): StreamDelivery | undefined {
  const first = rows[0]
  if (first === undefined) return undefined
  const position = { epoch: first.stream_epoch, head: Number(first.head) }
  const followers: FollowerPosition[] = []
  for (const row of rows) {
    const { client_id: clientId, epoch, offset } = row
    // The row of a stream without cursors in the page.
    if (clientId === null || clientId === undefined || epoch === null || epoch === undefined) {
      continue
    }
    const cursor = { epoch, offset: Number(offset ?? 0) }
    const behind = cursorLag(cursor, position)
    followers.push({
      clientId,
      userId: row.user_id ?? '',
      epoch,
      offset: cursor.offset,
      updatedAt: Number(row.updated_at ?? 0),
      following: behind !== null,
      behind,
    })
  }
  return {
    stream,
    epoch: position.epoch,
    head: position.head,
    tail: Number(first.tail),
    followers,
  }
}

export function toClientStreamDelivery(row: ClientDeliveryRow): ClientStreamDelivery {
  const stream =
    row.stream_epoch === null || row.head === null
      ? undefined
      : { epoch: row.stream_epoch, head: Number(row.head) }
  const unacked = cursorLag({ epoch: row.epoch, offset: Number(row.offset) }, stream)
  return {
    stream: row.stream,
    epoch: row.epoch,
    offset: Number(row.offset),
    updatedAt: Number(row.updated_at),
    head: stream?.head ?? null,
    tail: row.tail === null ? null : Number(row.tail),
    following: unacked !== null,
    unacked,
  }
}
