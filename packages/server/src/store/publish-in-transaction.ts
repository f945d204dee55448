import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import { announceCommit, commitAnnouncementDefaults } from '../postgres/commit-announcement.js'
import type { SqlClient } from '../postgres/postgres-connection.js'
import { quoteIdent } from '../postgres/sql-identifier.js'
import { appendInTransaction } from './postgres-append.js'
import { JSON_CONTENT_TYPE } from './store.js'

/** Options of {@link publishInTransaction}. */
export interface PublishInTransactionOptions {
  /** The schema of the Seqline tables, when the deployment uses one (`?schema=` of the store). */
  readonly schema?: string | undefined
  /** User id recorded as the message's `from`. Default: `null` (a server-side publish). */
  readonly from?: string | null | undefined
  /** The PostgresBus channel to announce on. Default `seqline`. */
  readonly channel?: string | undefined
  /** Commit time recorded on the message, ms. Default: now. */
  readonly now?: number | undefined
}

/**
 * Appends one JSON message to `stream` inside the application's own, already open PostgreSQL
 * transaction on `client` (the outbox pattern without an outbox table): the message exists if and
 * only if that transaction commits. Offsets are assigned under the same per-stream lock the
 * Seqline nodes take, so they stay gapless and unique. Creates the stream if needed.
 *
 * Subscribers learn of it at commit through NOTIFY when the nodes use the PostgreSQL bus, and
 * within the heal interval (1 s by default) with any other bus.
 *
 * The lock on the stream is held until the transaction ends: keep the transaction short.
 *
 * @example
 * await client.query('BEGIN')
 * await client.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [id, total])
 * const { offset } = await publishInTransaction(client, `user:${userId}`, { kind: 'order', id })
 * await client.query('COMMIT')
 */
export async function publishInTransaction(
  client: SqlClient,
  stream: string,
  data: unknown,
  options: PublishInTransactionOptions = {},
): Promise<{ epoch: string; offset: number }> {
  if (!isValidStreamName(stream)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
  }
  const text = JSON.stringify(data)
  if (text === undefined) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'data is not JSON')
  // Our tables are named without a schema: point search_path at Seqline's schema for the append,
  // then give the application its own back (SET LOCAL: never beyond its transaction).
  let restore: string | undefined
  if (options.schema !== undefined) {
    const { rows } = await client.query<{ path: string }>(
      "SELECT current_setting('search_path') AS path",
    )
    restore = rows[0]?.path
    await client.query(`SET LOCAL search_path TO ${quoteIdent(options.schema)}`)
  }
  try {
    return await append(client, stream, text, options)
  } finally {
    if (restore !== undefined) {
      await client.query("SELECT set_config('search_path', $1, true)", [restore])
    }
  }
}

async function append(
  client: SqlClient,
  stream: string,
  text: string,
  options: PublishInTransactionOptions,
): Promise<{ epoch: string; offset: number }> {
  const batch = [
    {
      stream,
      payloads: [Buffer.from(text)],
      from: options.from ?? null,
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
      now: options.now ?? Date.now(),
    },
  ]
  const results = await appendInTransaction(client, batch)
  const result = results[0]
  if (result === undefined) throw new SeqlineError(ErrorCode.INTERNAL, 'no append result')
  if (result.kind === 'rejected') throw new SeqlineError(result.code, result.message)
  if (result.kind === 'duplicate') return { epoch: result.epoch, offset: result.offset }
  await announceCommit(client, options.channel ?? commitAnnouncementDefaults.channel, {
    stream,
    epoch: result.epoch,
    head: result.head,
    closed: result.closed,
  })
  return { epoch: result.epoch, offset: result.head }
}
