import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { SqlClient } from '../postgres/postgres-connection.js'
import { quoteIdent } from '../postgres/sql-identifier.js'
import { seqlinePublishErrors } from './postgres-publish-function.js'

/** Options of {@link publishInTransaction}. */
export interface PublishInTransactionOptions {
  /** The schema of the Seqline tables, when the deployment uses one (`?schema=` of the store). */
  readonly schema?: string | undefined
  /** User id recorded as the message's `from`. Default: `null` (a server-side publish). */
  readonly from?: string | null | undefined
  /**
   * The PostgresBus channel to announce on. Default: the channel the nodes' PostgreSQL bus
   * recorded in the database (`seqline_settings`), else `seqline`.
   */
  readonly channel?: string | undefined
}

/**
 * Appends one JSON message to `stream` inside the application's own, already open PostgreSQL
 * transaction on `client` (the outbox pattern without an outbox table): the message exists if and
 * only if that transaction commits. It calls the SQL function `seqline_publish_position` — the
 * same append as `seqline_publish` from psql or any other language — which takes the per-stream
 * locks the Seqline nodes take, so offsets stay gapless and unique, and creates the stream if
 * needed. The commit time recorded on the message is the database's clock.
 *
 * Subscribers learn of it at commit through NOTIFY when the nodes use the PostgreSQL bus, and
 * within the heal interval (1 s by default) with any other bus.
 *
 * The lock on the stream is held until the transaction ends: keep the transaction short. A
 * refusal (closed, deleted or non-JSON stream) rejects with the `SeqlineError` of its code and
 * aborts the transaction, as any failed statement does; an invalid name or a value that is not
 * JSON is refused before anything is sent.
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
  // Named with its schema: the application's search_path stays as it is.
  const schema = options.schema === undefined ? '' : `${quoteIdent(options.schema)}.`
  const { rows } = await client
    .query<{ epoch: string; msg_offset: string | number }>(
      `SELECT epoch, msg_offset FROM ${schema}seqline_publish_position($1, $2::jsonb, $3, $4)`,
      [stream, text, options.from ?? null, options.channel ?? null],
    )
    .catch((err: unknown) => {
      throw refusal(err) ?? err
    })
  const row = rows[0]
  if (row === undefined)
    throw new SeqlineError(ErrorCode.INTERNAL, 'seqline_publish returned nothing')
  return { epoch: row.epoch, offset: Number(row.msg_offset) }
}

/** The `SeqlineError` of a refusal of `seqline_publish` (its SQLSTATE), if `err` is one. */
function refusal(err: unknown): SeqlineError | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code !== 'string' || !Object.hasOwn(seqlinePublishErrors, code)) return undefined
  const seqlineCode = seqlinePublishErrors[code as keyof typeof seqlinePublishErrors]
  const text = typeof message === 'string' ? message.replace(/^seqline [A-Z_]+: /, '') : ''
  return new SeqlineError(seqlineCode, text, { cause: err })
}
