import type { SqlClient } from './postgres-connection.js'
import { quoteIdent } from './sql-identifier.js'

// The announcement of a commit made inside the database: `seqline_publish` appends in the
// application's own transaction, where no Seqline node is there to tell the others. So the
// transaction itself sends a NOTIFY, which PostgreSQL delivers only if, and when, it commits
// (nothing on ROLLBACK). The payload is a bus `head` message from node `''` (no node): the nodes'
// PostgresBus receives it like the announcement of another node.
//
// This file is the one place that knows the channel — its default, and where the database finds
// the one the nodes listen on — and that encodes the payload: in SQL, because the commit happens
// in SQL. The store's migrations install `COMMIT_ANNOUNCEMENT_SQL`; the bus records its channel
// with `recordBusChannel`.

/** Defaults of the commit announcement. */
export const commitAnnouncementDefaults = {
  /** The channel of the PostgreSQL bus and of the announcements, unless configured otherwise. */
  channel: 'seqline',
} as const

/** The table of database-wide settings the nodes write for SQL callers (in the store's schema). */
export const SETTINGS_TABLE = 'seqline_settings'

/** The `seqline_settings` row holding the channel the nodes' PostgreSQL bus listens on. */
export const BUS_CHANNEL_SETTING = 'bus_channel'

/**
 * The SQL side of the announcement, created in the store's schema by its migration 2, which pins
 * `search_path` for `SET search_path FROM CURRENT`:
 *
 * - `seqline_bus_channel()`: the channel recorded in `seqline_settings`, else `seqline`;
 * - `seqline_announce_commit(channel, stream, epoch, head, closed)`: the NOTIFY — the one encoder
 *   of the payload of every commit made in SQL.
 *
 * Released with migration 2: never edit it; a change is a new migration that replaces the
 * functions (`CREATE OR REPLACE`).
 */
export const COMMIT_ANNOUNCEMENT_SQL = `
  CREATE TABLE ${SETTINGS_TABLE} (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE FUNCTION seqline_bus_channel() RETURNS text
  LANGUAGE sql STABLE SET search_path FROM CURRENT AS $fn$
    SELECT coalesce(
      (SELECT value FROM ${SETTINGS_TABLE} WHERE name = '${BUS_CHANNEL_SETTING}'),
      '${commitAnnouncementDefaults.channel}')
  $fn$;

  CREATE FUNCTION seqline_announce_commit(
    channel text, stream text, epoch text, head bigint, closed boolean
  ) RETURNS void
  LANGUAGE sql VOLATILE SET search_path FROM CURRENT AS $fn$
    SELECT pg_notify(channel, json_build_object(
      'kind', 'head', 'node', '', 'stream', stream, 'epoch', epoch, 'head', head,
      'closed', closed)::text)
  $fn$;
`

/**
 * Records the channel the nodes' PostgreSQL bus listens on in the store's `seqline_settings`, so
 * that `seqline_publish` announces its commits there without being told. Writes only when the
 * value changes (every node does it on every connect).
 */
export async function recordBusChannel(
  db: SqlClient,
  channel: string,
  schema: string | undefined,
): Promise<void> {
  const table = `${schema === undefined ? '' : `${quoteIdent(schema)}.`}${SETTINGS_TABLE}`
  await db.query(
    `INSERT INTO ${table} AS s (name, value) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value WHERE s.value <> EXCLUDED.value`,
    [BUS_CHANNEL_SETTING, channel],
  )
}
