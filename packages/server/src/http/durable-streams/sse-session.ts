import type { ServerResponse } from 'node:http'
import type { StreamRecord } from '../../store/store.js'
import { CommitWaiter } from './commit-waiter.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { encodeOffset } from './offset-token.js'
import { chunkBody, concatData, readChunk } from './read-chunk.js'
import { nextCursor } from './stream-cursor.js'
import { isJsonStream } from './stream-access.js'

// `live=sse` (Durable Streams §5.8). Each chunk read from the log becomes one `data` event,
// immediately followed by one `control` event with the next offset — so a reader that stops after
// any control event knows exactly where to resume. While up to date the session waits for commits
// to this stream and sends a keep-alive control event at every long-poll interval; it ends itself
// after `sseCloseAfterMs` (§10.2) so that clients reconnect through their CDN, and at once when
// the stream is closed and fully delivered.

/** How data events carry a stream's bytes (§5.8): text as is, anything else in base64. */
type DataEncoding = 'json' | 'text' | 'base64'

function encodingOf(contentType: string): DataEncoding {
  if (isJsonStream(contentType)) return 'json'
  const base = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase()
  return base.startsWith('text/') ? 'text' : 'base64'
}

/**
 * One SSE event. Every line of the payload gets its own `data:` line, splitting on CRLF, CR and
 * LF alike, so no payload can end an event early or forge one (§5.8, the suite's CRLF injection
 * tests). No space after `data:`: readers strip exactly one, which would eat a leading space.
 */
export function sseEvent(type: 'data' | 'control', payload: string): string {
  return `event: ${type}\n${payload
    .split(/\r\n|\r|\n/)
    .map((line) => `data:${line}`)
    .join('\n')}\n\n`
}

/** Streams `stream` from `position` as Server-Sent Events until closed, deleted or timed out. */
export async function streamSse(
  res: ServerResponse,
  ctx: DurableStreamsContext,
  stream: StreamRecord,
  position: number,
  cursor: string | undefined,
): Promise<void> {
  const encoding = encodingOf(stream.contentType)
  res.statusCode = 200
  res.setHeader('Content-Type', 'text/event-stream')
  res.setHeader('Cache-Control', 'no-cache')
  res.setHeader('Connection', 'keep-alive')
  if (encoding === 'base64') res.setHeader('Stream-SSE-Data-Encoding', 'base64')
  res.flushHeaders()

  const waiter = new CommitWaiter(ctx.engine, stream.name)
  const abort = new AbortController()
  res.once('close', () => abort.abort())
  const endAt = Date.now() + ctx.options.sseCloseAfterMs
  let current = stream
  let next = position
  // Why this round runs: the first, a commit, or a keep-alive timeout.
  let reason: 'start' | 'commit' | 'timeout' = 'start'
  let lastControl = ''
  // Like a WebSocket subscription, a live SSE reader holds back retention at its position, so a
  // reader keeping up is never reset by a burst that outruns the retention count.
  const release = ctx.engine.holdRetention(stream.name, () => next + 1)
  try {
    while (!abort.signal.aborted) {
      const chunk = await readChunk(ctx, current, next)
      if (chunk.count > 0) {
        const data =
          encoding === 'json'
            ? chunkBody(ctx, current, chunk).toString('utf8')
            : encoding === 'text'
              ? concatData(chunk.messages, chunk.bytes).toString('utf8')
              : concatData(chunk.messages, chunk.bytes).toString('base64')
        res.write(sseEvent('data', data))
        next = chunk.next
      }
      const upToDate = next >= current.head
      const closed = current.closed && upToDate
      const control = controlEvent(current, next, upToDate, closed, cursor)
      // A commit this session already read (it landed before the read) changes nothing: no
      // second identical control event. Keep-alives repeat it on purpose.
      const state = `${next}:${upToDate}:${closed}`
      if (chunk.count > 0 || reason !== 'commit' || state !== lastControl) {
        res.write(sseEvent('control', control))
      }
      lastControl = state
      if (closed) break
      if (!upToDate) {
        reason = 'commit'
        continue
      }
      const waitMs = Math.min(ctx.options.longPollTimeoutMs, endAt - Date.now())
      const woke = await waiter.wait(waitMs, abort.signal)
      if (woke === 'aborted' || woke === 'deleted') break
      if (woke === 'timeout' && Date.now() >= endAt) break
      reason = woke
      const fresh = await ctx.engine.getStream(stream.name)
      if (fresh === undefined || fresh.softDeleted) break
      current = fresh
    }
  } finally {
    release()
    waiter.dispose()
    res.end()
  }
}

/**
 * A control event (§5.8): `streamNextOffset` always; `streamCursor` unless closed (nothing to
 * reconnect for); `upToDate` when caught up; `streamClosed` once the final offset is delivered.
 */
function controlEvent(
  stream: StreamRecord,
  next: number,
  upToDate: boolean,
  closed: boolean,
  cursor: string | undefined,
): string {
  const control: Record<string, string | boolean> = {
    streamNextOffset: encodeOffset(stream.epoch, next),
  }
  if (closed) {
    control.streamClosed = true
    control.upToDate = true
  } else {
    control.streamCursor = nextCursor(cursor, Date.now())
    if (upToDate) control.upToDate = true
  }
  return JSON.stringify(control)
}
