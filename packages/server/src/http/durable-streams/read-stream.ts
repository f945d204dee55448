import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { CommittedMessage } from '../../engine/committed-message.js'
import type { Follower } from '../../engine/follower.js'
import type { StreamReader } from '../../engine/stream-reader.js'
import { isJsonMediaType } from '../../media-type.js'
import type { StoredMessage, StreamRecord } from '../../store/store.js'
import type { RouteContext } from '../route.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { type OffsetRequest, encodeOffset, parseOffset, resolveOffset } from './offset-token.js'
import { type ReadChunk, chunkBody, emptyChunk, readChunk } from './read-chunk.js'
import { CACHE_DATA, CACHE_NONE, setContentHeaders } from './response-headers.js'
import { streamSse } from './sse-reader.js'
import { nextCursor } from './stream-cursor.js'
import { loadStream, touch } from './stream-access.js'

/** The query of a read: where to start and how to wait (§5.6–§5.8). */
export interface ReadQuery {
  readonly offset: OffsetRequest
  readonly live: 'long-poll' | 'sse' | undefined
  readonly cursor: string | undefined
}

/** Parses `offset`, `live` and `cursor`; unknown parameters are ignored (§11.1). */
export function parseReadQuery(search: URLSearchParams): ReadQuery {
  const offsets = search.getAll('offset')
  if (offsets.length > 1) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Repeated offset parameter')
  const live = search.get('live') ?? undefined
  if (live !== undefined && live !== 'long-poll' && live !== 'sse') {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'live must be long-poll or sse')
  }
  const raw = offsets[0]
  // Live modes need an explicit offset (§5.7, §5.8); a catch-up read defaults to -1 (§5.6).
  if (raw === undefined && live !== undefined) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `live=${live} needs an offset`)
  }
  const offset = raw === undefined ? ({ kind: 'start' } as const) : parseOffset(raw)
  if (offset === undefined) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Malformed offset')
  return { offset, live, cursor: search.get('cursor') ?? undefined }
}

/**
 * `GET /v1/stream/<name>`: catch-up (§5.6), long-poll (§5.7) or SSE (§5.8). Reads the same log the
 * WebSocket subscribers are fed from, so both doors see one order; the live modes follow the
 * stream on the same cursor pumps. Needs `read` on the stream.
 */
export async function readStream(ctx: RouteContext, ds: DurableStreamsContext): Promise<void> {
  const { req, res } = ctx
  const name = ctx.params['stream'] as string
  await ds.engine.authorizer.check(ctx.principal, name, 'read')
  const query = parseReadQuery(ctx.query)
  const stream = await loadStream(ds, name)
  // Live readers reset the TTL when their request begins (§5.1).
  await touch(ds, stream)
  const resolved = resolveOffset(query.offset, stream)
  if (resolved.kind === 'gone') {
    throw new SeqlineError(ErrorCode.GONE, 'The offset is below the retained history of the stream')
  }
  if (resolved.kind === 'beyond') {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The offset is beyond the end of the stream')
  }
  if (query.live === 'sse') {
    await streamSse(res, ds, stream, resolved.position, query.cursor)
    return
  }
  if (query.offset.kind === 'now' && query.live === undefined) {
    sendNow(res, stream)
    return
  }
  if (query.live === 'long-poll') {
    await longPoll(req, res, ds, stream, resolved.position, query.cursor)
    return
  }
  const chunk = await readChunk(ds, stream, resolved.position)
  sendChunk(req, res, ds, stream, resolved.position, chunk)
}

/** `offset=now` catch-up (§8): nothing, but the tail position; never cached. */
function sendNow(res: ServerResponse, stream: StreamRecord): void {
  res.statusCode = 200
  setContentHeaders(res, stream.contentType)
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, stream.head))
  res.setHeader('Stream-Up-To-Date', 'true')
  if (stream.closed) res.setHeader('Stream-Closed', 'true')
  res.setHeader('Cache-Control', CACHE_NONE)
  res.end(isJsonMediaType(stream.contentType) ? '[]' : undefined)
}

/**
 * §5.7: answers at once when there is data after `position` (or the stream is closed there),
 * else follows the stream — never its fork source — on a cursor pump until the next commit, up
 * to the timeout. What the pump delivers is bounded by the high-water mark.
 */
async function longPoll(
  req: IncomingMessage,
  res: ServerResponse,
  ds: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
  cursor: string | undefined,
): Promise<void> {
  const chunk = await readChunk(ds, stream, position)
  if (chunk.count > 0 || stream.closed) {
    sendChunk(req, res, ds, stream, position, chunk, { cursor })
    return
  }
  const outcome = await waitForMessages(res, ds, stream, position)
  if (outcome.kind === 'aborted') return
  if (outcome.kind === 'deleted') {
    throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'The stream was deleted')
  }
  const current = await ds.engine.streams.get(stream.name)
  if (current === undefined || current.softDeleted || current.epoch !== stream.epoch) {
    throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'The stream was deleted')
  }
  const messages = outcome.kind === 'messages' ? outcome.messages : []
  if (messages.length === 0) {
    sendChunk(req, res, ds, current, position, emptyChunk(position), { cursor })
    return
  }
  const next = messages.at(-1)?.offset ?? position
  sendChunk(
    req,
    res,
    ds,
    current,
    position,
    {
      messages,
      count: messages.length,
      first: messages[0]?.offset,
      next,
      upToDate: next >= current.head,
      bytes: messages.reduce((sum: number, m) => sum + m.data.byteLength, 0),
    },
    { cursor },
  )
}

type WaitOutcome =
  | { readonly kind: 'messages'; readonly messages: readonly StoredMessage[] }
  | { readonly kind: 'timeout' | 'deleted' | 'aborted' }

/** The follower of a waiting long-poll: collects what the pump delivers, up to its bound. */
class CollectingFollower implements Follower {
  readonly id = `p_${randomBytes(9).toString('base64url')}`
  readonly messages: StoredMessage[] = []
  #bytes = 0
  constructor(private readonly res: ServerResponse) {}
  get closed(): boolean {
    return this.res.destroyed
  }
  get bufferedAmount(): number {
    return this.#bytes
  }
  whenDrained(): Promise<void> {
    // Never drains: the request answers with what it holds.
    return new Promise(() => {})
  }
  batch(write: () => void): void {
    write()
  }
  message(message: CommittedMessage): void {
    this.messages.push(message.stored)
    this.#bytes += message.stored.data.byteLength
  }
  event(): void {}
}

/** Follows `stream` from `position` until a commit delivers messages, it closes, or time is up. */
async function waitForMessages(
  res: ServerResponse,
  ds: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
): Promise<WaitOutcome> {
  const follower = new CollectingFollower(res)
  let reader: StreamReader | undefined
  let settle: (outcome: WaitOutcome) => void = () => {}
  const settled = new Promise<WaitOutcome>((resolve) => (settle = resolve))
  const events = {
    caughtUp: () => {},
    delivered: () => settle({ kind: 'messages', messages: follower.messages }),
    truncated: async () => settle({ kind: 'messages', messages: [] }),
    failed: (err: unknown) => {
      ds.logger.error({ err, stream: stream.name }, 'long-poll read failed')
      settle({ kind: 'timeout' })
    },
    ended: () => settle({ kind: 'deleted' }),
    advanced: () => {
      if (reader?.hub.closed === true && reader.pump.position >= reader.hub.head) {
        settle({ kind: 'messages', messages: follower.messages })
      }
    },
  }
  const timer = setTimeout(() => settle({ kind: 'timeout' }), ds.settings.longPollTimeoutMs)
  const onClose = (): void => settle({ kind: 'aborted' })
  res.once('close', onClose)
  try {
    reader = await ds.engine.streams.follow(stream, position, follower, events)
    reader.start()
    return await settled
  } finally {
    clearTimeout(timer)
    res.off('close', onClose)
    if (reader !== undefined) ds.engine.streams.unfollow(reader)
  }
}

/**
 * Sends one chunk with the headers of §5.6 (and of §5.7 for a long-poll, `live`):
 * an empty live answer is 204; `Stream-Closed` only once the reader reached the final offset;
 * an ETag that changes with the range and the closure, answered 304 on a match (§10.1).
 */
function sendChunk(
  req: IncomingMessage,
  res: ServerResponse,
  ds: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
  chunk: ReadChunk,
  live?: { readonly cursor: string | undefined },
): void {
  const atEnd = chunk.upToDate && chunk.next >= stream.head
  const closed = stream.closed && atEnd
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, chunk.next))
  if (chunk.upToDate) res.setHeader('Stream-Up-To-Date', 'true')
  if (closed) res.setHeader('Stream-Closed', 'true')
  else if (live !== undefined) {
    res.setHeader('Stream-Cursor', nextCursor(live.cursor, Date.now(), ds.settings.cursor))
  }
  if (live !== undefined && chunk.count === 0) {
    res.statusCode = 204
    res.setHeader('Cache-Control', CACHE_NONE)
    res.end()
    return
  }
  const etag = `"${stream.epoch}:${position}:${chunk.next}${closed ? ':c' : ''}"`
  res.setHeader('ETag', etag)
  // An empty answer at the tail must not be cached: the next append would stay invisible.
  res.setHeader('Cache-Control', chunk.count > 0 ? CACHE_DATA : CACHE_NONE)
  if (req.headers['if-none-match'] === etag) {
    res.statusCode = 304
    res.end()
    return
  }
  res.statusCode = 200
  setContentHeaders(res, stream.contentType)
  const body = chunkBody(ds, stream, chunk)
  res.setHeader('Content-Length', body.byteLength)
  res.end(body)
}
