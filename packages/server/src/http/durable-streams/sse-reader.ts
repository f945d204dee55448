import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { CommittedMessage, MessageEncoding } from '../../engine/committed-message.js'
import type { Follower } from '../../engine/follower.js'
import type { ReaderEvents, StreamReader } from '../../engine/stream-reader.js'
import { isJsonMediaType, isTextMediaType } from '../../media-type.js'
import type { StreamRecord } from '../../store/store.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { encodeOffset } from './offset-token.js'
import { nextCursor } from './stream-cursor.js'

// `live=sse` (Durable Streams §5.8). Each batch the stream's cursor pump delivers becomes one
// `data` event, immediately followed by one `control` event with the next offset — so a reader
// that stops after any control event knows exactly where to resume. The pump is the one every
// WebSocket subscriber is fed by: it stops at the high-water mark until the response drains, so
// a reader that does not read costs a position, not a buffer (G6). While up to date the response
// gets a keep-alive control event at every long-poll interval; it ends after `sseCloseAfterMs`
// (§10.2) so that clients reconnect through their CDN, and at once when the stream is closed and
// fully delivered, deleted, or trimmed below the reader (whose next request then gets 410).

/** How data events carry a stream's bytes (§5.8): text as is, anything else in base64. */
type DataEncoding = 'json' | 'text' | 'base64'

function encodingOf(contentType: string): DataEncoding {
  if (isJsonMediaType(contentType)) return 'json'
  return isTextMediaType(contentType) ? 'text' : 'base64'
}

const decoder = new TextDecoder()
const LINE_BREAK = /\r\n|\r|\n/g

/**
 * A JSON message's value as the lines of a data event: every line break starts a new `data:`
 * line, so no payload can end an event early or forge one (§5.8, the CRLF injection tests).
 * Shared by every SSE reader of the stream: encoded once per message.
 */
const sseJsonLines: MessageEncoding<string> = {
  name: 'durable-streams-sse-json',
  encode: (message) => decoder.decode(message.stored.data).replace(LINE_BREAK, '\ndata:'),
}

/**
 * One SSE event. Every line of the payload gets its own `data:` line, splitting on CRLF, CR and
 * LF alike. No space after `data:`: readers strip exactly one, which would eat a leading space.
 */
export function sseEvent(type: 'data' | 'control', payload: string): string {
  return `event: ${type}\ndata:${payload.replace(LINE_BREAK, '\ndata:')}\n\n`
}

/** The follower of one SSE response: a batch of messages becomes one data event. */
class SseFollower implements Follower {
  readonly id = `s_${randomBytes(9).toString('base64url')}`
  #batch: CommittedMessage[] = []
  /** Payload bytes of `#batch`: not written yet, but already this reader's (the pump stops on it). */
  #batchBytes = 0

  constructor(
    private readonly res: ServerResponse,
    private readonly encoding: DataEncoding,
  ) {}

  get closed(): boolean {
    return this.res.writableEnded || this.res.destroyed
  }

  get bufferedAmount(): number {
    return this.res.writableLength + this.#batchBytes
  }

  whenDrained(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done)
        this.res.off('close', done)
        resolve()
      }
      this.res.on('drain', done)
      this.res.on('close', done)
    })
  }

  batch(write: () => void): void {
    write()
    const batch = this.#batch
    this.#batch = []
    this.#batchBytes = 0
    if (batch.length === 0 || this.closed) return
    this.res.write(this.#dataEvent(batch))
  }

  message(message: CommittedMessage): void {
    this.#batch.push(message)
    this.#batchBytes += message.stored.data.byteLength
  }

  event(): void {
    // Durable Streams readers get messages only: no presence, no signals.
  }

  #dataEvent(batch: readonly CommittedMessage[]): string {
    if (this.encoding === 'json') {
      return `event: data\ndata:[${batch.map((m) => m.encoded(sseJsonLines)).join(',')}]\n\n`
    }
    const bytes = Buffer.concat(batch.map((m) => m.stored.data))
    return sseEvent(
      'data',
      this.encoding === 'text' ? bytes.toString('utf8') : bytes.toString('base64'),
    )
  }
}

/** Streams `stream` from `position` as Server-Sent Events until closed, deleted or timed out. */
export async function streamSse(
  res: ServerResponse,
  ds: DurableStreamsContext,
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

  const follower = new SseFollower(res, encoding)
  // Set once following; the callbacks below may run before (and must then do nothing).
  const following: { reader?: StreamReader } = {}
  let done = false
  let delivered = false
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = () => {
      if (done) return
      done = true
      clearInterval(keepAlive)
      clearTimeout(closeAfter)
      if (following.reader !== undefined) ds.engine.streams.unfollow(following.reader)
      res.end()
      resolve()
    }
  })

  /** A control event (§5.8) at the reader's position; ends the response once a closed stream is done. */
  const control = (): void => {
    const reader = following.reader
    if (done || reader === undefined) return
    const { hub, pump } = reader
    const upToDate = pump.position >= hub.head
    const closed = hub.closed && upToDate
    const fields: Record<string, string | boolean> = {
      streamNextOffset: encodeOffset(hub.epoch, pump.position),
    }
    if (closed) {
      fields.streamClosed = true
      fields.upToDate = true
    } else {
      fields.streamCursor = nextCursor(cursor, Date.now(), ds.settings.cursor)
      if (upToDate) fields.upToDate = true
    }
    res.write(sseEvent('control', JSON.stringify(fields)))
    if (closed) finish()
  }

  const events: ReaderEvents = {
    // After a first batch its control event said "up to date" already; at an empty start, say it.
    caughtUp: () => {
      if (!delivered) control()
    },
    delivered: () => {
      delivered = true
      control()
    },
    truncated: async () => finish(),
    failed: (err) => {
      ds.logger.error({ err, stream: stream.name }, 'SSE read failed')
      finish()
    },
    ended: () => finish(),
    advanced: () => {
      // A closure without data moves nothing the pump would deliver: say it here.
      const reader = following.reader
      if (reader !== undefined && reader.hub.closed && reader.pump.position >= reader.hub.head) {
        control()
      }
    },
  }

  const keepAlive = setInterval(() => control(), ds.settings.longPollTimeoutMs)
  const closeAfter = setTimeout(() => finish(), ds.settings.sseCloseAfterMs)
  keepAlive.unref()
  closeAfter.unref()
  res.once('close', () => finish())
  const reader = await ds.engine.streams.follow(stream, position, follower, events)
  following.reader = reader
  if (done) ds.engine.streams.unfollow(reader)
  else reader.start()
  await finished
}
