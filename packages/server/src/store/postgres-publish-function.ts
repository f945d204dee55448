import { ErrorCode, STREAM_NAME_PATTERN } from '@seqline/protocol'

// `seqline_publish`: a publish from SQL, inside the caller's own transaction, in any language
// that talks to PostgreSQL (psql, a trigger, a Go or Python service). It is THE append of a
// message from SQL: `publishInTransaction` calls it too. It takes the per-stream locks of the
// nodes' group commits (postgres-append.ts `lockStreams`: a transaction-scoped advisory lock on
// `hashtextextended(name, 0)`, then the stream row `FOR UPDATE`), so offsets stay gapless and
// unique while nodes publish to the same stream, and announces the commit with
// `seqline_announce_commit` (postgres/commit-announcement.ts), delivered at COMMIT only.
//
//   seqline_publish(stream text, data jsonb) → bigint                  the offset
//   seqline_publish(stream text, data jsonb, from_user text) → bigint  with the sender's user id
//   seqline_publish_position(stream, data, from_user, channel) → (epoch text, msg_offset bigint)
//
// The functions are SECURITY DEFINER with a pinned search_path, and EXECUTE is revoked from
// PUBLIC: a role of the application needs `GRANT EXECUTE` on them, and nothing on the tables.

/**
 * SQLSTATEs `seqline_publish` raises, with the Seqline error code each stands for (the message
 * starts with that code too: `seqline STREAM_CLOSED: stream … is closed`). Class `SL` is not used
 * by PostgreSQL.
 */
export const seqlinePublishErrors = {
  SL001: ErrorCode.INVALID_STREAM_NAME,
  SL002: ErrorCode.BAD_REQUEST,
  SL003: ErrorCode.GONE,
  SL004: ErrorCode.STREAM_CLOSED,
  SL005: ErrorCode.CONFLICT,
} as const satisfies Record<string, ErrorCode>

// The stream-name pattern of the protocol, as a PostgreSQL regular expression (same syntax here).
const NAME_PATTERN = STREAM_NAME_PATTERN.source.replaceAll("'", "''")

/**
 * The functions, created by migration 2 of the PostgreSQL store after it pinned `search_path`.
 * Released with migration 2: never edit; a change is a new migration (`CREATE OR REPLACE`).
 *
 * The epoch of a stream created here has the format of `newStreamEpoch` (store-rules.ts): 10
 * base-36 digits of a random number below 36^10 — from 60 random bits of `gen_random_uuid()`.
 */
export const SEQLINE_PUBLISH_SQL = `
  CREATE FUNCTION seqline_new_epoch() RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
  DECLARE
    hex text := replace(gen_random_uuid()::text, '-', '');
    -- 60 random bits: hex digit 13 of a version 4 UUID is the version, not random.
    n bigint := ('x0' || substr(hex, 1, 12) || substr(hex, 14, 3))::bit(64)::bigint
      % 3656158440062976;
    digits constant text := '0123456789abcdefghijklmnopqrstuvwxyz';
    epoch text := '';
  BEGIN
    FOR i IN 1..10 LOOP
      epoch := substr(digits, (n % 36)::int + 1, 1) || epoch;
      n := n / 36;
    END LOOP;
    RETURN epoch;
  END
  $fn$;

  CREATE FUNCTION seqline_publish_position(
    stream text, data jsonb, from_user text, channel text,
    OUT epoch text, OUT msg_offset bigint
  )
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
  #variable_conflict use_column
  DECLARE
    p_stream ALIAS FOR $1;
    p_data ALIAS FOR $2;
    p_from ALIAS FOR $3;
    p_channel ALIAS FOR $4;
    s streams%ROWTYPE;
    now_ms bigint := floor(date_part('epoch', clock_timestamp()) * 1000);
  BEGIN
    IF p_stream IS NULL OR p_stream !~ '${NAME_PATTERN}' THEN
      RAISE EXCEPTION 'seqline INVALID_STREAM_NAME: invalid stream name %', quote_literal(left(p_stream, 200))
        USING ERRCODE = 'SL001',
          HINT = 'A stream name has 1 to 200 characters A-Z a-z 0-9 : _ . @ / - and starts with a letter or digit.';
    END IF;
    IF p_data IS NULL THEN
      RAISE EXCEPTION 'seqline BAD_REQUEST: data is SQL NULL'
        USING ERRCODE = 'SL002', HINT = 'For a JSON null, pass ''null''::jsonb.';
    END IF;
    -- The lock every Seqline writer of this stream takes first (postgres-append.ts lockStreams).
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));
    SELECT * INTO s FROM streams WHERE name = p_stream FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO streams (name, epoch, content_type, head, tail, created_at, last_access_at)
      VALUES (p_stream, seqline_new_epoch(), 'application/json', 0, 1, now_ms, now_ms)
      RETURNING * INTO s;
    ELSIF s.soft_deleted THEN
      RAISE EXCEPTION 'seqline GONE: stream % was deleted', p_stream USING ERRCODE = 'SL003';
    ELSIF s.closed THEN
      RAISE EXCEPTION 'seqline STREAM_CLOSED: stream % is closed', p_stream
        USING ERRCODE = 'SL004';
    ELSIF lower(btrim(split_part(s.content_type, ';', 1), E' \\t\\r\\n')) <> 'application/json' THEN
      RAISE EXCEPTION 'seqline CONFLICT: stream % has content type %, not application/json',
        p_stream, s.content_type USING ERRCODE = 'SL005';
    END IF;
    msg_offset := s.head + 1;
    epoch := s.epoch;
    INSERT INTO messages (stream, msg_offset, from_user, ts, data)
    VALUES (p_stream, msg_offset, p_from, now_ms, convert_to(p_data::text, 'UTF8'));
    UPDATE streams SET head = msg_offset, last_access_at = greatest(last_access_at, now_ms)
    WHERE name = p_stream;
    PERFORM seqline_announce_commit(
      coalesce(p_channel, seqline_bus_channel()), p_stream, epoch, msg_offset, false);
  END
  $fn$;

  CREATE FUNCTION seqline_publish(stream text, data jsonb, from_user text) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
    SELECT msg_offset FROM seqline_publish_position(stream, data, from_user, NULL)
  $fn$;

  CREATE FUNCTION seqline_publish(stream text, data jsonb) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
    SELECT msg_offset FROM seqline_publish_position(stream, data, NULL, NULL)
  $fn$;

  REVOKE EXECUTE ON FUNCTION seqline_new_epoch(), seqline_bus_channel(),
    seqline_announce_commit(text, text, text, bigint, boolean),
    seqline_publish_position(text, jsonb, text, text),
    seqline_publish(text, jsonb, text), seqline_publish(text, jsonb) FROM PUBLIC;
`
