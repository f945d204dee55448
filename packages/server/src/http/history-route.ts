import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Principal } from '../auth/authenticator.js'
import type { Engine } from '../engine/engine.js'
import { isJsonContentType } from '../engine/message-frame.js'
import type { StoredMessage } from '../store/store.js'
import { sendJson } from './json-error.js'

/** What the history and cursor routes need from the engine. */
export type HistoryEngine = Pick<
  Engine,
  'authorize' | 'getStream' | 'read' | 'getCursorsOfStream' | 'store'
>

/** A message as the history route returns it: the full envelope, like a WebSocket `msg` frame. */
export interface HistoryMessage {
  readonly offset: number
  readonly producer: string | null
  readonly seq: number | null
  readonly from: string | null
  readonly ts: number
  readonly data: unknown
  readonly enc?: 'base64'
}

/** A route this file serves: its metric label and the handler. */
export interface HistoryRouteMatch {
  readonly route: string
  readonly run: () => Promise<void>
}

/** Default and largest page of `GET /v1/history/<stream>`. */
export const historyDefaults = { limit: 50, maxLimit: 500 } as const

const HISTORY_PREFIX = '/v1/history/'
const CURSORS_PREFIX = '/v1/cursors/'
const decoder = new TextDecoder()

/**
 * Two read-only routes for apps that show a log to people (the chat demo):
 *
 * - `GET /v1/history/<stream>?before=<offset>&limit=<n>` → `{stream, epoch, head, tail, messages}`:
 *   the last `n` retained messages below `before` (default: past the head), with their envelope
 *   (`from`, `ts`, producer). A page ending at the head is a snapshot as of `{epoch, head}`, which
 *   is what the SDK's `snapshot()` path needs; pages below it are how a client scrolls back.
 *   Durable Streams reads (`/v1/stream/…`) return the appended bytes only, without the envelope.
 * - `GET /v1/cursors/<stream>` → `{stream, epoch, head, cursors: [{user, offset, updatedAt}]}`:
 *   every registered client's acked offset in the current epoch, with its user — "seen by" and
 *   delivery receipts. Client ids are not listed: they are not other users' business.
 *
 * Both need a token and `authorize(user, stream, 'read')`. A stream that does not exist yet reads
 * as empty (`epoch: null`), because subscribing to it would create it.
 */
export function matchHistoryRoute(
  req: IncomingMessage,
  res: ServerResponse,
  engine: HistoryEngine,
  authenticate: (req: IncomingMessage) => Promise<Principal>,
): HistoryRouteMatch | undefined {
  const method = req.method ?? 'GET'
  if (method !== 'GET' && method !== 'HEAD') return undefined
  const url = new URL(req.url ?? '/', 'http://localhost')
  const path = url.pathname

  if (path.startsWith(HISTORY_PREFIX)) {
    return {
      route: '/v1/history/:stream',
      run: async () => {
        const stream = await authorizedStream(req, engine, authenticate, path, HISTORY_PREFIX)
        const before = readInt(url.searchParams.get('before'), 'before', 1)
        const limit = Math.min(
          readInt(url.searchParams.get('limit'), 'limit', 1) ?? historyDefaults.limit,
          historyDefaults.maxLimit,
        )
        const record = await engine.getStream(stream)
        if (record === undefined || record.softDeleted) {
          sendJson(res, 200, { stream, epoch: null, head: 0, tail: 1, messages: [] })
          return
        }
        const end = Math.min(before ?? record.head + 1, record.head + 1)
        const after = Math.max(record.tail - 1, end - 1 - limit)
        const stored = end - 1 > after ? await engine.read(stream, after, end - 1 - after) : []
        const messages = stored.map((m) => toHistoryMessage(m, record.contentType))
        sendJson(res, 200, {
          stream,
          epoch: record.epoch,
          head: record.head,
          tail: record.tail,
          messages,
        })
      },
    }
  }

  if (path.startsWith(CURSORS_PREFIX)) {
    return {
      route: '/v1/cursors/:stream',
      run: async () => {
        const stream = await authorizedStream(req, engine, authenticate, path, CURSORS_PREFIX)
        const record = await engine.getStream(stream)
        if (record === undefined || record.softDeleted) {
          sendJson(res, 200, { stream, epoch: null, head: 0, cursors: [] })
          return
        }
        const users = new Map<string, string | undefined>()
        const cursors = []
        for (const cursor of await engine.getCursorsOfStream(stream)) {
          // A cursor of an older epoch points into a history that no longer exists.
          if (cursor.epoch !== record.epoch) continue
          if (!users.has(cursor.clientId)) {
            users.set(cursor.clientId, (await engine.store.getClient(cursor.clientId))?.userId)
          }
          const user = users.get(cursor.clientId)
          if (user !== undefined) {
            cursors.push({ user, offset: cursor.offset, updatedAt: cursor.updatedAt })
          }
        }
        sendJson(res, 200, { stream, epoch: record.epoch, head: record.head, cursors })
      },
    }
  }
  return undefined
}

async function authorizedStream(
  req: IncomingMessage,
  engine: HistoryEngine,
  authenticate: (req: IncomingMessage) => Promise<Principal>,
  path: string,
  prefix: string,
): Promise<string> {
  const { userId, claims } = await authenticate(req)
  let stream: string
  try {
    // Stream names may contain `/`: the whole rest of the path is the name.
    stream = decodeURIComponent(path.slice(prefix.length))
  } catch {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  if (!isValidStreamName(stream)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  await engine.authorize(userId, stream, 'read', { claims })
  return stream
}

function readInt(value: string | null, name: string, min: number): number | undefined {
  if (value === null || value === '') return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `"${name}" must be an integer ≥ ${min}`)
  }
  return n
}

function toHistoryMessage(message: StoredMessage, contentType: string): HistoryMessage {
  const base = {
    offset: message.offset,
    producer: message.producer,
    seq: message.seq,
    from: message.from,
    ts: message.ts,
  }
  if (isJsonContentType(contentType)) {
    return { ...base, data: JSON.parse(decoder.decode(message.data)) }
  }
  if (contentType.startsWith('text/')) return { ...base, data: decoder.decode(message.data) }
  return { ...base, data: Buffer.from(message.data).toString('base64'), enc: 'base64' }
}
