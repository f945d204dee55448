// The unread query of `PostgresStore` (Store.findUnread): ONE statement, run by the node that
// holds the `webhooks` lease every few seconds. $1 offlineBefore, $2 committedBefore, $3/$4 the
// page cursor (user, stream; NULL on the first page), $5 the page size, $6 the count cap (NULL:
// no cap).
//
//   acked   per (user, stream, epoch) the furthest cursor of the user's clients: one pass over
//           cursors ⋈ clients (hash joins), minus the users with a client seen since $1 (a hash
//           anti-join on the recent end of clients_by_last_seen — connected clients are few);
//   page    joined to the streams on the current epoch, only where that cursor is below the head
//           (caught-up pairs, nearly all of them, never reach the message probes); per remaining
//           pair the first message after the cursor not sent by the user — one probe of the
//           messages' primary key — kept when committed before $2; in (user, stream) byte order
//           after the page cursor, at most $5 rows;
//   count   the unread messages of the page's rows only, at most $6 each (a range of the primary
//           key that stops at the cap).
//
// The epoch is grouped on before the join to the streams (rather than joined on first): the
// planner misjudges a join on (name, epoch) by orders of magnitude and then picks nested loops.
export const FIND_UNREAD_SQL = `
  WITH acked AS (
    SELECT cl.user_id COLLATE "C" AS user_id, c.stream, c.epoch, max(c.acked_offset) AS acked
    FROM cursors c
    JOIN clients cl ON cl.id = c.client_id
    WHERE NOT EXISTS (
        SELECT 1 FROM clients seen
        WHERE seen.user_id = cl.user_id AND seen.last_seen_at >= $1::bigint)
      AND ($3::text IS NULL OR (cl.user_id COLLATE "C", c.stream) > ($3::text, $4::text))
    GROUP BY cl.user_id, c.stream, c.epoch
  ),
  page AS (
    SELECT b.user_id, b.stream, b.epoch, f.msg_offset AS first_offset, f.ts
    FROM (
      SELECT a.user_id, a.stream, a.epoch, a.acked
      FROM acked a
      JOIN streams s ON s.name = a.stream AND s.epoch = a.epoch AND NOT s.soft_deleted
      WHERE a.acked < s.head
      ORDER BY a.user_id, a.stream
    ) b
    CROSS JOIN LATERAL (
      SELECT m.msg_offset, m.ts FROM messages m
      WHERE m.stream = b.stream AND m.msg_offset > b.acked
        AND m.from_user IS DISTINCT FROM b.user_id
      ORDER BY m.msg_offset LIMIT 1
    ) f
    WHERE f.ts < $2::bigint
    ORDER BY b.user_id, b.stream
    LIMIT $5
  )
  SELECT p.user_id, p.stream, p.epoch, p.first_offset, p.ts, n.unread
  FROM page p
  CROSS JOIN LATERAL (
    SELECT count(*) AS unread FROM (
      SELECT 1 FROM messages u
      WHERE u.stream = p.stream AND u.msg_offset >= p.first_offset
        AND u.from_user IS DISTINCT FROM p.user_id
      LIMIT $6
    ) counted
  ) n
  ORDER BY p.user_id, p.stream`
