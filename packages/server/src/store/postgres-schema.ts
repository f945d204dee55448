import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { COMMIT_ANNOUNCEMENT_SQL } from '../postgres/commit-announcement.js'
import type { SqlClient } from '../postgres/postgres-connection.js'
import { quoteIdent } from '../postgres/sql-identifier.js'
import { SEQLINE_PUBLISH_SQL } from './postgres-publish-function.js'

// The PostgreSQL schema of `PostgresStore`: its versioned migrations, applied in order and
// recorded in `seqline_migrations`. Append new migrations, never edit a released one: a database
// in the field has already run it.
//
// Names are `COLLATE "C"` so that `ORDER BY name` is byte order, the order the SQLite and memory
// stores list streams in (and the order a `listStreams` page cursor relies on). Offsets and
// timestamps are BIGINT; the store converts them to numbers (safe up to 2^53).
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE streams (
    name                 TEXT COLLATE "C" PRIMARY KEY,
    epoch                TEXT NOT NULL,
    content_type         TEXT NOT NULL,
    head                 BIGINT NOT NULL,
    tail                 BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    closed               BOOLEAN NOT NULL DEFAULT FALSE,
    closed_by_producer   TEXT,
    closed_by_epoch      BIGINT,
    closed_by_seq        BIGINT,
    ttl_seconds          BIGINT,
    expires_at           BIGINT,
    last_access_at       BIGINT NOT NULL,
    stream_seq           TEXT,
    retention_max_age_ms BIGINT,
    retention_max_count  BIGINT,
    fork_source          TEXT COLLATE "C",
    fork_offset          BIGINT,
    fork_sub_offset      BIGINT,
    soft_deleted         BOOLEAN NOT NULL DEFAULT FALSE
  );
  CREATE INDEX streams_by_fork_source ON streams (fork_source) WHERE fork_source IS NOT NULL;
  CREATE INDEX streams_expiring ON streams (name)
    WHERE ttl_seconds IS NOT NULL OR expires_at IS NOT NULL;

  -- Reads and trims are range scans of the primary key.
  CREATE TABLE messages (
    stream         TEXT COLLATE "C" NOT NULL,
    msg_offset     BIGINT NOT NULL,
    producer       TEXT,
    producer_epoch BIGINT,
    seq            BIGINT,
    from_user      TEXT,
    ts             BIGINT NOT NULL,
    data           BYTEA NOT NULL,
    PRIMARY KEY (stream, msg_offset)
  );
  -- Finds the offset of an older duplicate publish (Store.append).
  CREATE INDEX messages_by_producer ON messages (stream, producer, producer_epoch, seq)
    WHERE producer IS NOT NULL;

  CREATE TABLE producers (
    stream      TEXT COLLATE "C" NOT NULL,
    producer_id TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (stream, producer_id)
  );

  CREATE TABLE clients (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
  );
  CREATE INDEX clients_by_user ON clients (user_id);
  CREATE INDEX clients_by_last_seen ON clients (last_seen_at);

  -- The foreign key makes "an ack racing the client's garbage collection never resurrects its
  -- cursors" hold across nodes: the delete cascades, a late insert fails and is dropped.
  CREATE TABLE cursors (
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    stream       TEXT COLLATE "C" NOT NULL,
    epoch        TEXT NOT NULL,
    acked_offset BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, stream)
  );
  CREATE INDEX cursors_by_stream ON cursors (stream, client_id);
  `,
  // 2: publishing from SQL (seqline_publish) and the NOTIFY that announces such a commit.
  `
  -- The functions run with the search_path of their creation (SET search_path FROM CURRENT),
  -- whatever their caller's: this schema (where they are created), the catalog, temporary
  -- objects last.
  SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_catalog, pg_temp',
    true);
  ${COMMIT_ANNOUNCEMENT_SQL}
  ${SEQLINE_PUBLISH_SQL}
  `,
  // 3: retention until acked (DESIGN §9).
  `
  ALTER TABLE streams ADD COLUMN retention_until_acked BOOLEAN NOT NULL DEFAULT FALSE;
  `,
  // 4: clients that said they are closing (Store.markClientClosing, forgetClosingClients).
  `
  ALTER TABLE clients ADD COLUMN closing_at BIGINT;
  CREATE INDEX clients_closing ON clients (closing_at) WHERE closing_at IS NOT NULL;
  `,
  // 5: leases (Store.claimLease): one node of a deployment does a job.
  `
  CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  `,
]

/** The schema version this code writes: the number of migrations. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length

// One advisory lock serialises nodes that start (and migrate) at the same time.
const MIGRATION_LOCK = 0x5e911e

/**
 * Brings the schema of the connection's `search_path` up to date (or up to version `target`), in
 * one transaction under an advisory lock, so that nodes starting together migrate once. A
 * database at the current version is left as is; one written by a newer build is refused.
 * Returns the versions applied.
 */
export async function migratePostgres(
  client: SqlClient,
  schema?: string,
  target: number = MIGRATIONS.length,
): Promise<number[]> {
  const applied: number[] = []
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    if (schema !== undefined)
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
    await client.query(`
      CREATE TABLE IF NOT EXISTS seqline_migrations (
        version    INTEGER PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`)
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT MAX(version) AS version FROM seqline_migrations',
    )
    const version = rows[0]?.version ?? 0
    if (version > MIGRATIONS.length) {
      // A newer Seqline wrote this database; running old code on it could corrupt it.
      throw new SeqlineError(
        ErrorCode.INTERNAL,
        `database schema version ${version} is newer than this build's ${MIGRATIONS.length}`,
      )
    }
    for (let v = version; v < Math.min(target, MIGRATIONS.length); v++) {
      await client.query(MIGRATIONS[v] ?? '')
      await client.query('INSERT INTO seqline_migrations (version) VALUES ($1)', [v + 1])
      applied.push(v + 1)
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  }
  return applied
}
