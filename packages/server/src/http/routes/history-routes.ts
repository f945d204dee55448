import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Engine } from '../../engine/engine.js'
import { isJsonMediaType, isTextMediaType } from '../../media-type.js'
import type { StoredMessage } from '../../store/store.js'
import { sendJson } from '../json-error.js'
import type { Route } from '../route.js'

/** Default and largest page of `GET /v1/history/<stream>`. */
export const historyDefaults = { limit: 50, maxLimit: 500 } as const

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
 * Both need a token and `read` on the stream. A stream that does not exist yet reads as empty
 * (`epoch: null`). Stored JSON is spliced into the answer as it is, never parsed again: no stored
 * message, however deep or large, can make a read fail (F7).
 */
export function historyRoutes(engine: Engine): Route[] {
  return [
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/history/*stream',
      auth: 'user',
      handle: async ({ res, principal, params, query }) => {
        const stream = params['stream'] as string
        await engine.authorizer.check(principal, stream, 'read')
        const before = readInt(query.get('before'), 'before', 1)
        const limit = Math.min(
          readInt(query.get('limit'), 'limit', 1) ?? historyDefaults.limit,
          historyDefaults.maxLimit,
        )
        const record = await engine.streams.get(stream)
        if (record === undefined || record.softDeleted) {
          sendJson(res, 200, { stream, epoch: null, head: 0, tail: 1, messages: [] })
          return
        }
        const end = Math.min(before ?? record.head + 1, record.head + 1)
        const after = Math.max(record.tail - 1, end - 1 - limit)
        const stored =
          end - 1 > after ? await engine.streams.read(stream, after, end - 1 - after) : []
        const messages = stored.map((m) => historyMessage(m, record.contentType)).join(',')
        const head = JSON.stringify({
          stream,
          epoch: record.epoch,
          head: record.head,
          tail: record.tail,
        })
        sendRawJson(res, `${head.slice(0, -1)},"messages":[${messages}]}`)
      },
    },
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/cursors/*stream',
      auth: 'user',
      handle: async ({ res, principal, params }) => {
        const stream = params['stream'] as string
        await engine.authorizer.check(principal, stream, 'read')
        const record = await engine.streams.get(stream)
        if (record === undefined || record.softDeleted) {
          sendJson(res, 200, { stream, epoch: null, head: 0, cursors: [] })
          return
        }
        const users = new Map<string, string | undefined>()
        const cursors = []
        for (const cursor of await engine.cursors.ofStream(stream)) {
          // A cursor of an older epoch points into a history that no longer exists.
          if (cursor.epoch !== record.epoch) continue
          if (!users.has(cursor.clientId)) {
            users.set(cursor.clientId, (await engine.clients.get(cursor.clientId))?.userId)
          }
          const user = users.get(cursor.clientId)
          if (user !== undefined) {
            cursors.push({ user, offset: cursor.offset, updatedAt: cursor.updatedAt })
          }
        }
        sendJson(res, 200, { stream, epoch: record.epoch, head: record.head, cursors })
      },
    },
  ]
}

function readInt(value: string | null, name: string, min: number): number | undefined {
  if (value === null || value === '') return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `"${name}" must be an integer ≥ ${min}`)
  }
  return n
}

/** One message of the history answer, as JSON text: the stored JSON spliced in as it is. */
function historyMessage(message: StoredMessage, contentType: string): string {
  const base =
    `{"offset":${message.offset},"producer":${JSON.stringify(message.producer)},` +
    `"seq":${message.seq === null ? 'null' : message.seq},"from":${JSON.stringify(message.from)},` +
    `"ts":${message.ts},"data":`
  if (isJsonMediaType(contentType)) return `${base}${decoder.decode(message.data)}}`
  if (isTextMediaType(contentType)) return `${base}${JSON.stringify(decoder.decode(message.data))}}`
  return `${base}"${Buffer.from(message.data).toString('base64')}","enc":"base64"}`
}

function sendRawJson(res: import('node:http').ServerResponse, text: string): void {
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(text))
  res.setHeader('Cache-Control', 'no-store')
  res.end(res.req?.method === 'HEAD' ? undefined : text)
}
