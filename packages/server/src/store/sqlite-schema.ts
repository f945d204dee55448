import type Database from 'better-sqlite3'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

// The SQLite schema of `SqliteStore`: its migrations and the statements that run over it, kept
// together so that a column change and the SQL that reads it change in one place.

// Schema migrations, applied in order; `PRAGMA user_version` records how many have run. Append
// new migrations, never edit a released one: a database in the field has already run it.
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE streams (
    name                 TEXT PRIMARY KEY,
    epoch                TEXT NOT NULL,
    content_type         TEXT NOT NULL,
    head                 INTEGER NOT NULL,
    tail                 INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    closed               INTEGER NOT NULL DEFAULT 0,
    closed_by_producer   TEXT,
    closed_by_epoch      INTEGER,
    closed_by_seq        INTEGER,
    ttl_seconds          INTEGER,
    expires_at           INTEGER,
    last_access_at       INTEGER NOT NULL,
    stream_seq           TEXT,
    retention_max_age_ms INTEGER,
    retention_max_count  INTEGER
  );

  -- Clustered by (stream, offset): reads and trims are range scans of one B-tree.
  CREATE TABLE messages (
    stream         TEXT NOT NULL,
    offset         INTEGER NOT NULL,
    producer       TEXT,
    producer_epoch INTEGER,
    seq            INTEGER,
    from_user      TEXT,
    ts             INTEGER NOT NULL,
    data           BLOB NOT NULL,
    PRIMARY KEY (stream, offset)
  ) WITHOUT ROWID;

  -- Finds the offset of an older duplicate publish (Store.append); server-side publishes carry
  -- no producer and stay out of the index.
  CREATE INDEX messages_by_producer ON messages (stream, producer, producer_epoch, seq)
    WHERE producer IS NOT NULL;

  CREATE TABLE producers (
    stream      TEXT NOT NULL,
    producer_id TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (stream, producer_id)
  ) WITHOUT ROWID;

  CREATE TABLE clients (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
  );
  CREATE INDEX clients_by_user ON clients (user_id);
  CREATE INDEX clients_by_last_seen ON clients (last_seen_at);

  CREATE TABLE cursors (
    client_id  TEXT NOT NULL,
    stream     TEXT NOT NULL,
    epoch      TEXT NOT NULL,
    offset     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, stream)
  ) WITHOUT ROWID;
  CREATE INDEX cursors_by_stream ON cursors (stream, client_id);
  `,
  // 2: Durable Streams forks, soft-delete and expiry (§4.2, §5.1).
  `
  ALTER TABLE streams ADD COLUMN fork_source TEXT;
  ALTER TABLE streams ADD COLUMN fork_offset INTEGER;
  ALTER TABLE streams ADD COLUMN fork_sub_offset INTEGER;
  ALTER TABLE streams ADD COLUMN soft_deleted INTEGER NOT NULL DEFAULT 0;
  -- "Does any fork still reference this stream?" on every delete.
  CREATE INDEX streams_by_fork_source ON streams (fork_source) WHERE fork_source IS NOT NULL;
  -- The expiry job scans only streams that can expire.
  CREATE INDEX streams_expiring ON streams (name)
    WHERE ttl_seconds IS NOT NULL OR expires_at IS NOT NULL;
  `,
  // 3: retention until acked (DESIGN §9).
  `
  ALTER TABLE streams ADD COLUMN retention_until_acked INTEGER NOT NULL DEFAULT 0;
  `,
  // 4: clients that said they are closing (Store.markClientClosing, forgetClosingClients).
  `
  ALTER TABLE clients ADD COLUMN closing_at INTEGER;
  CREATE INDEX clients_closing ON clients (closing_at) WHERE closing_at IS NOT NULL;
  `,
  // 5: leases (Store.claimLease): one node of a deployment does a job.
  `
  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
]

/** The schema version this code writes: the number of migrations. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the schema up to date (or up to version `target`) in one transaction. Idempotent: a
 * database at the current version is left as is; one from a newer build is refused.
 */
export function migrate(db: Database.Database, target: number = MIGRATIONS.length): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > MIGRATIONS.length) {
      // A newer Seqline wrote this file; running old code on it could corrupt it.
      throw new SeqlineError(
        ErrorCode.INTERNAL,
        `database schema version ${version} is newer than this build's ${MIGRATIONS.length}`,
      )
    }
    const end = Math.min(target, MIGRATIONS.length)
    for (let v = version; v < end; v++) db.exec(MIGRATIONS[v] ?? '')
    if (version < end) db.pragma(`user_version = ${end}`)
  }).immediate()
}

// Every statement SqliteStore runs, by name.
const SQL = {
  getStream: 'SELECT * FROM streams WHERE name = ?',
  getHeads: `
      SELECT name, epoch, head FROM streams
      WHERE name IN (SELECT value FROM json_each(?)) AND soft_deleted = 0`,
  insertStream: `
      INSERT INTO streams (name, epoch, content_type, head, tail, created_at, closed,
        closed_by_producer, closed_by_epoch, closed_by_seq, ttl_seconds, expires_at,
        last_access_at, stream_seq, retention_max_age_ms, retention_max_count,
        retention_until_acked, fork_source, fork_offset, fork_sub_offset, soft_deleted)
      VALUES (@name, @epoch, @content_type, @head, @tail, @created_at, @closed,
        @closed_by_producer, @closed_by_epoch, @closed_by_seq, @ttl_seconds, @expires_at,
        @last_access_at, @stream_seq, @retention_max_age_ms, @retention_max_count,
        @retention_until_acked, @fork_source, @fork_offset, @fork_sub_offset, @soft_deleted)`,
  updateStreamAfterAppend: `
      UPDATE streams SET head = @head, closed = @closed, closed_by_producer = @closed_by_producer,
        closed_by_epoch = @closed_by_epoch, closed_by_seq = @closed_by_seq,
        stream_seq = @stream_seq, last_access_at = @last_access_at
      WHERE name = @name`,
  deleteStream: 'DELETE FROM streams WHERE name = ?',
  softDeleteStream: 'UPDATE streams SET soft_deleted = 1 WHERE name = ?',
  hasForks: 'SELECT 1 AS found FROM streams WHERE fork_source = ? LIMIT 1',
  expiredStreams: `
      SELECT name FROM streams
      WHERE (ttl_seconds IS NOT NULL OR expires_at IS NOT NULL) AND soft_deleted = 0
        AND (expires_at <= @now OR last_access_at + ttl_seconds * 1000 <= @now)
      ORDER BY name LIMIT @limit`,
  listStreams:
    'SELECT * FROM streams WHERE @after IS NULL OR name > @after ORDER BY name LIMIT @limit',
  touchStream: 'UPDATE streams SET last_access_at = MAX(last_access_at, @now) WHERE name = @name',
  setTail: 'UPDATE streams SET tail = ? WHERE name = ?',

  insertMessage: `
      INSERT INTO messages (stream, offset, producer, producer_epoch, seq, from_user, ts, data)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  readMessages: `
      SELECT offset, producer, seq, from_user, ts, data FROM messages
      WHERE stream = ? AND offset > ? ORDER BY offset LIMIT ?`,
  // The count-bounded page's size and last offset: when it fits in the byte budget (the usual
  // case) this plain aggregate is the page's end, without the running sum below.
  readPageSize: `
      SELECT sum(size) AS bytes, max(offset) AS last FROM (
        SELECT offset, length(data) AS size FROM messages
        WHERE stream = @name AND offset > @after ORDER BY offset LIMIT @limit)`,
  // The last offset of a catch-up page bounded by bytes: a running sum of the payload sizes keeps
  // the first message and whatever fits in the byte budget after it. `length()` of a blob column
  // reads its size from the record header, not the payload, so no payload is loaded here.
  readPageEnd: `
      SELECT max(offset) AS last FROM (
        SELECT offset,
               sum(size) OVER (ORDER BY offset ROWS UNBOUNDED PRECEDING) AS upto,
               row_number() OVER (ORDER BY offset) AS n
        FROM (SELECT offset, length(data) AS size FROM messages
              WHERE stream = @name AND offset > @after ORDER BY offset LIMIT @limit)
      )
      WHERE n = 1 OR upto <= @maxBytes`,
  readMessagesUpTo: `
      SELECT offset, producer, seq, from_user, ts, data FROM messages
      WHERE stream = ? AND offset > ? AND offset <= ? ORDER BY offset`,
  // The JSON array of a catch-up chunk, built by SQLite in one query over the page `readPageEnd`
  // found: only the payloads that fit are loaded.
  readJsonArray: `
      SELECT min(offset) AS first, max(offset) AS last, count(*) AS count,
             sum(length(data)) AS bytes,
             CAST('[' || group_concat(data, ',' ORDER BY offset) || ']' AS BLOB) AS body
      FROM messages
      WHERE stream = @name AND offset > @after AND offset <= @last`,
  readMessagesThrough: `
      SELECT offset, producer, seq, from_user, ts, data FROM messages
      WHERE stream = ? AND offset <= ? ORDER BY offset`,
  offsetOfPublish: `
      SELECT MAX(offset) AS offset FROM messages
      WHERE stream = ? AND producer = ? AND producer_epoch = ? AND seq = ?`,
  // The stream and what its trim depends on, in one statement: the first message young enough
  // (when there is an age limit) and the lowest cursor of the clients following the stream in its
  // current epoch (when trimming until acked).
  trimInputs: `
      SELECT s.*,
        CASE WHEN @cutoff IS NULL THEN NULL ELSE (
          SELECT offset FROM messages WHERE stream = s.name AND ts >= @cutoff
          ORDER BY offset LIMIT 1) END AS youngest_cut,
        CASE WHEN @untilAcked = 0 THEN NULL ELSE (
          SELECT min(c.offset) FROM cursors c WHERE c.stream = s.name AND c.epoch = s.epoch)
        END AS acked_through
      FROM streams s WHERE s.name = @name`,
  retentionHolders: `
      SELECT c.client_id, cl.user_id, c.offset, s.head - c.offset AS behind, cl.last_seen_at
      FROM streams s
      JOIN cursors c ON c.stream = s.name AND c.epoch = s.epoch
      JOIN clients cl ON cl.id = c.client_id
      WHERE s.name = @stream AND c.offset < s.head
      ORDER BY c.offset, c.client_id LIMIT @limit`,
  // The unread messages of offline users (Store.findUnread), in one statement:
  //   acked   per (user, stream, epoch) the furthest cursor of the user's clients, after the page
  //           cursor, for users none of whose clients was seen since @offlineBefore (the recent
  //           end of clients_by_last_seen: connected clients are few);
  //   behind  those in the stream's current epoch whose cursor is below the head — caught-up
  //           pairs never reach the probes — materialized in (user, stream) order, which the
  //           page then keeps: no sort after the probes, and they stop at @limit rows;
  //   page    per pair the first message after the cursor not sent by the user (one probe of
  //           the primary key), kept when committed before @committedBefore;
  //   count   the unread messages of the page's rows only, at most @maxCount each (-1: all).
  findUnread: `
      WITH acked AS (
        SELECT cl.user_id, c.stream, c.epoch, max(c.offset) AS acked
        FROM cursors c JOIN clients cl ON cl.id = c.client_id
        WHERE cl.user_id NOT IN (SELECT user_id FROM clients WHERE last_seen_at >= @offlineBefore)
          AND (@afterUser IS NULL OR (cl.user_id, c.stream) > (@afterUser, @afterStream))
        GROUP BY cl.user_id, c.stream, c.epoch
      ),
      behind AS MATERIALIZED (
        SELECT a.user_id, a.stream, a.epoch, a.acked
        FROM acked a
        JOIN streams s ON s.name = a.stream AND s.epoch = a.epoch AND s.soft_deleted = 0
        WHERE a.acked < s.head
        ORDER BY a.user_id, a.stream
      ),
      firsts AS (
        SELECT b.user_id, b.stream, b.epoch, (
          SELECT m.offset FROM messages m
          WHERE m.stream = b.stream AND m.offset > b.acked AND m.from_user IS NOT b.user_id
          ORDER BY m.offset LIMIT 1) AS first_offset
        FROM behind b
      ),
      page AS (
        SELECT f.user_id, f.stream, f.epoch, f.first_offset, m.ts
        FROM firsts f JOIN messages m ON m.stream = f.stream AND m.offset = f.first_offset
        WHERE m.ts < @committedBefore
        ORDER BY f.user_id, f.stream LIMIT @limit
      )
      SELECT p.user_id, p.stream, p.epoch, p.first_offset, p.ts, (
        SELECT count(*) FROM (
          SELECT 1 FROM messages u
          WHERE u.stream = p.stream AND u.offset >= p.first_offset AND u.from_user IS NOT p.user_id
          LIMIT @maxCount)) AS unread
      FROM page p ORDER BY p.user_id, p.stream`,
  deleteMessagesBelow: 'DELETE FROM messages WHERE stream = ? AND offset < ?',
  deleteMessagesOfStream: 'DELETE FROM messages WHERE stream = ?',

  getProducer:
    'SELECT epoch, last_seq, last_offset, updated_at FROM producers WHERE stream = ? AND producer_id = ?',
  upsertProducer: `
      INSERT INTO producers (stream, producer_id, epoch, last_seq, last_offset, updated_at)
      VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (stream, producer_id) DO UPDATE SET epoch = excluded.epoch,
        last_seq = excluded.last_seq, last_offset = excluded.last_offset,
        updated_at = excluded.updated_at`,
  deleteProducersOfStream: 'DELETE FROM producers WHERE stream = ?',
  deleteStaleProducers: 'DELETE FROM producers WHERE updated_at < ?',

  insertClient: `
      INSERT INTO clients (id, user_id, secret_hash, created_at, last_seen_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  getClient: 'SELECT * FROM clients WHERE id = ?',
  countClientsOfUser: 'SELECT COUNT(*) AS n FROM clients WHERE user_id = ?',
  touchClient: 'UPDATE clients SET last_seen_at = MAX(last_seen_at, @now) WHERE id = @id',
  deleteClient: 'DELETE FROM clients WHERE id = ?',
  updateClientSecret: 'UPDATE clients SET secret_hash = @secretHash WHERE id = @id',
  deleteStaleClients: 'DELETE FROM clients WHERE last_seen_at < ? RETURNING id, user_id',
  markClientClosing: 'UPDATE clients SET closing_at = @at WHERE id = @id',
  // Closing: said so at or before the time, and not seen since.
  deleteCursorsOfClosingClients: `
      DELETE FROM cursors WHERE client_id IN (
        SELECT id FROM clients WHERE closing_at <= ? AND last_seen_at <= closing_at)`,
  deleteClosingClients: `
      DELETE FROM clients WHERE closing_at <= ? AND last_seen_at <= closing_at RETURNING id, user_id`,
  countClientsByState: `
      SELECT coalesce(sum(closing), 0) AS closing,
        coalesce(sum(NOT closing AND last_seen_at >= @since), 0) AS active,
        coalesce(sum(NOT closing AND last_seen_at < @since), 0) AS idle
      FROM (SELECT closing_at IS NOT NULL AND last_seen_at <= closing_at AS closing, last_seen_at
            FROM clients)`,

  // Cursors only move forward within an epoch; another epoch replaces them. The INSERT … SELECT
  // drops entries of unknown clients (an ack racing the client's garbage collection).
  upsertCursor: `
      INSERT INTO cursors (client_id, stream, epoch, offset, updated_at)
      SELECT @clientId, @stream, @epoch, @offset, @now
      WHERE EXISTS (SELECT 1 FROM clients WHERE id = @clientId)
      ON CONFLICT (client_id, stream) DO UPDATE SET epoch = excluded.epoch,
        offset = excluded.offset, updated_at = excluded.updated_at
      WHERE cursors.epoch <> excluded.epoch OR excluded.offset > cursors.offset`,
  getCursors: 'SELECT * FROM cursors WHERE client_id = ? ORDER BY stream',
  // A stream and a page of its clients' cursors: one row per cursor, or one row with NULL
  // cursor columns when the page is empty.
  streamDelivery: `
      SELECT s.epoch AS stream_epoch, s.head, s.tail, f.client_id, f.user_id, f.epoch, f.offset,
        f.updated_at
      FROM streams s
      LEFT JOIN (
        SELECT c.client_id, cl.user_id, c.epoch, c.offset, c.updated_at
        FROM cursors c JOIN clients cl ON cl.id = c.client_id
        WHERE c.stream = @stream AND (@after IS NULL OR c.client_id > @after)
          AND (@userId IS NULL OR cl.user_id = @userId)
        ORDER BY c.client_id LIMIT @limit
      ) f ON 1
      WHERE s.name = @stream AND s.soft_deleted = 0
      ORDER BY f.client_id`,
  clientDelivery: `
      SELECT c.stream, c.epoch, c.offset, c.updated_at, s.epoch AS stream_epoch, s.head, s.tail
      FROM cursors c LEFT JOIN streams s ON s.name = c.stream AND s.soft_deleted = 0
      WHERE c.client_id = @clientId AND (@after IS NULL OR c.stream > @after)
      ORDER BY c.stream LIMIT @limit`,
  getCursorsOfStream: 'SELECT * FROM cursors WHERE stream = ? ORDER BY client_id',
  deleteCursorsOfClient: 'DELETE FROM cursors WHERE client_id = ?',
  deleteCursorsOfStream: 'DELETE FROM cursors WHERE stream = ?',
  deleteCursorsOfStaleClients:
    'DELETE FROM cursors WHERE client_id IN (SELECT id FROM clients WHERE last_seen_at < ?)',

  // Taken when free, expired or already ours; a row comes back only when it is ours now.
  claimLease: `
      INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @now + @ttlMs)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE leases.holder = excluded.holder OR leases.expires_at <= @now
      RETURNING holder`,
  releaseLease: 'DELETE FROM leases WHERE name = @name AND holder = @holder',
} as const

/** Every statement `SqliteStore` runs, prepared once per connection and reused (better-sqlite3). */
export type Statements = {
  readonly [K in keyof typeof SQL | 'readMessagesRaw' | 'readMessagesUpToRaw']: Database.Statement
}

/** Prepares every statement of `SQL` on this connection. */
export function prepareStatements(db: Database.Database): Statements {
  const entries = Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)] as const)
  const statements = Object.fromEntries(entries) as Record<string, Database.Statement>
  // The catch-up read returns rows as arrays (see SqliteStore.read).
  statements.readMessagesRaw = db.prepare(SQL.readMessages).raw(true)
  statements.readMessagesUpToRaw = db.prepare(SQL.readMessagesUpTo).raw(true)
  return statements as Statements
}
