import type { UnreadEpisode } from './store.js'

// The rows of the unread query (`Store.findUnread`), the same on SQLite and PostgreSQL, and their
// mapping to episodes. Numbers may arrive as strings (PostgreSQL BIGINT): each goes through
// `Number()`.

type Num = number | string

/** A `findUnread` row: one (user, stream) with its first unread message and how many there are. */
export interface UnreadRow {
  user_id: string
  stream: string
  epoch: string
  first_offset: Num
  ts: Num
  unread: Num
}

/** The episode of one `findUnread` row. */
export function toUnreadEpisode(row: UnreadRow): UnreadEpisode {
  return {
    user: row.user_id,
    stream: row.stream,
    epoch: row.epoch,
    firstUnreadOffset: Number(row.first_offset),
    since: Number(row.ts),
    unread: Number(row.unread),
  }
}
