import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import { isExpired } from '../../store/store-rules.js'
import type { StreamRecord } from '../../store/store.js'
import type { DurableStreamsContext } from './durable-streams-context.js'

/** Where Durable Streams live (DESIGN §6). */
export const STREAM_PATH_PREFIX = '/v1/stream/'

/**
 * The stream name of a `/v1/stream/<name>` path or of a bare name (a `Stream-Forked-From` value
 * may be either; names may contain `/`). Throws INVALID_STREAM_NAME (400).
 */
export function streamNameOf(path: string): string {
  const raw = path.startsWith(STREAM_PATH_PREFIX) ? path.slice(STREAM_PATH_PREFIX.length) : path
  let name: string
  try {
    name = decodeURIComponent(raw)
  } catch {
    name = ''
  }
  if (!isValidStreamName(name)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  return name
}

/**
 * The stream as a Durable Streams client may see it: STREAM_NOT_FOUND (404) when it does not
 * exist, GONE (410) when it is soft-deleted (§4.2). A stream past its TTL or expiry is deleted
 * here and then (§5.1), so that no request ever sees it, however late the expiry job runs.
 */
export async function loadStream(ctx: DurableStreamsContext, name: string): Promise<StreamRecord> {
  let stream = await ctx.engine.streams.get(name)
  if (stream !== undefined && !stream.softDeleted && isExpired(stream, Date.now())) {
    await ctx.engine.streams.delete(name)
    stream = await ctx.engine.streams.get(name)
  }
  if (stream === undefined) throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'Stream not found')
  if (stream.softDeleted) throw new SeqlineError(ErrorCode.GONE, 'The stream was deleted')
  return stream
}

/**
 * Resets the sliding TTL of a stream that has one (§5.1: reads and writes reset it, HEAD does
 * not). Streams without a TTL skip the write: a read must not cost a transaction.
 */
export async function touch(ctx: DurableStreamsContext, stream: StreamRecord): Promise<void> {
  if (stream.ttlSeconds !== null) await ctx.engine.streams.touch(stream.name)
}
