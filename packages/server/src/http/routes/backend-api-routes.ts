import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import { isValidUserId } from '../../auth/user-id.js'
import type { Engine } from '../../engine/engine.js'
import { sendJson } from '../json-error.js'
import { readBody } from '../read-body.js'
import type { Route, RouteContext } from '../route.js'
import { presencePageDefaults } from './presence-route.js'

// The backend HTTP API (docs/backends.md): what the application's own servers — in any language —
// call with an API key (`Authorization: Bearer <key>`), never a user token. It acts as the server,
// not as a user: `authorize` is not asked, messages are published with `from: null`.
//
//   POST   /v1/api/publish/<stream>        {data, idempotencyKey?}      → {stream, epoch, offset, duplicate}
//   POST   /v1/api/batch                   {messages: [{stream, data, idempotencyKey?}, …]}
//                                                                      → {results: [… | {stream, error}]}
//   DELETE /v1/api/streams/<stream>                                     → 204 | 404 STREAM_NOT_FOUND
//   GET    /v1/api/presence/<stream>?after=&limit=                      → {stream, mode, users, count, next?}
//   POST   /v1/api/users/<user>/disconnect {reconnect?}                 → {user, reconnect, connectionsOnThisNode}
//   POST   /v1/api/users/<user>/revoke     {stream?}                    → 202 {user, stream}
//
// Every call is logged with the id of its key (never the key) and its outcome.

/** Limits of the backend API. */
export const backendApiLimits = {
  /** Messages in one batch. */
  maxBatchMessages: 1_000,
  /** Body of one batch (each message is also held to `--max-payload-bytes`). */
  maxBatchBodyBytes: 16 * 1024 * 1024,
  /** Bodies of the other calls, beyond the payload limit for `publish`. */
  envelopeBytes: 8 * 1024,
  /** Longest idempotency key, in characters (printable ASCII, no spaces). */
  maxIdempotencyKeyLength: 128,
} as const

const IDEMPOTENCY_KEY = /^[\x21-\x7e]+$/

/** What the backend API needs. */
export interface BackendApiOptions {
  readonly engine: Engine
  readonly logger: Logger
  /** `--max-payload-bytes`: bounds a `publish` body. */
  readonly maxPayloadBytes: number
}

/** The outcome of one publish of a batch, as answered. */
type PublishOutcome =
  | {
      readonly stream: string
      readonly epoch: string
      readonly offset: number
      readonly duplicate: boolean
    }
  | {
      readonly stream?: string
      readonly error: { readonly code: string; readonly message: string }
    }

/** One message to publish, checked. */
interface PublishItem {
  readonly stream: string
  readonly data: unknown
  readonly idempotencyKey: string | undefined
}

/**
 * The routes of the backend HTTP API (see the table above). They need an API key: without any
 * key configured (`--api-keys-file`, `SEQLINE_API_KEYS`) every call is refused with 401.
 */
export function backendApiRoutes(options: BackendApiOptions): Route[] {
  const { engine, logger } = options

  /** Publishes one item as the server; the idempotency key is scoped to the calling key. */
  const publish = (item: PublishItem, keyId: string) =>
    engine.streams.publish(item.stream, item.data, {
      from: null,
      ...(item.idempotencyKey === undefined
        ? {}
        : { producer: { id: apiProducerId(keyId, item.idempotencyKey), epoch: 0, seq: 0 } }),
    })

  return [
    {
      methods: ['POST'],
      path: '/v1/api/publish/*stream',
      auth: 'api-key',
      handle: async (ctx) => {
        const stream = ctx.params['stream'] as string
        const { keyId } = logCall(ctx, logger, 'publish', { stream })
        const body = await readObject(
          ctx.req,
          options.maxPayloadBytes + backendApiLimits.envelopeBytes,
        )
        const item = parseItem({ ...body, stream })
        const result = await publish(item, keyId)
        sendJson(ctx.res, result.duplicate ? 200 : 201, { stream, ...result })
      },
    },
    {
      methods: ['POST'],
      path: '/v1/api/batch',
      auth: 'api-key',
      handle: async (ctx) => {
        const { keyId, fields } = logCall(ctx, logger, 'batch', {})
        const body = await readObject(ctx.req, backendApiLimits.maxBatchBodyBytes)
        const messages = body['messages']
        if (!Array.isArray(messages) || messages.length === 0) {
          throw new SeqlineError(ErrorCode.BAD_REQUEST, '"messages" must be a non-empty array')
        }
        if (messages.length > backendApiLimits.maxBatchMessages) {
          throw new SeqlineError(
            ErrorCode.BAD_REQUEST,
            `A batch holds at most ${backendApiLimits.maxBatchMessages} messages`,
          )
        }
        fields['messages'] = messages.length
        // Every publish is queued in this same tick, so they join one group commit.
        const pending = messages.map(async (raw: unknown): Promise<PublishOutcome> => {
          const stream =
            isObject(raw) && isValidStreamName(raw['stream']) ? raw['stream'] : undefined
          try {
            const result = await publish(parseItem(raw), keyId)
            return { stream: stream as string, ...result }
          } catch (err) {
            const error = asSeqlineError(err, logger)
            return {
              ...(stream === undefined ? {} : { stream }),
              error: { code: error.code, message: error.message },
            }
          }
        })
        sendJson(ctx.res, 200, { results: await Promise.all(pending) })
      },
    },
    {
      methods: ['DELETE'],
      path: '/v1/api/streams/*stream',
      auth: 'api-key',
      handle: async (ctx) => {
        const stream = ctx.params['stream'] as string
        logCall(ctx, logger, 'delete-stream', { stream })
        if (!(await engine.streams.delete(stream))) {
          throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'Stream not found')
        }
        ctx.res.statusCode = 204
        ctx.res.end()
      },
    },
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/api/presence/*stream',
      auth: 'api-key',
      handle: async (ctx) => {
        const stream = ctx.params['stream'] as string
        logCall(ctx, logger, 'presence', { stream })
        const after = ctx.query.get('after') ?? undefined
        const limitText = ctx.query.get('limit')
        const limit = limitText === null ? presencePageDefaults.limit : Number(limitText)
        if (!Number.isSafeInteger(limit) || limit < 1) {
          throw new SeqlineError(ErrorCode.BAD_REQUEST, '"limit" must be a positive integer')
        }
        const page = engine.presence.page(
          stream,
          after,
          Math.min(limit, presencePageDefaults.maxLimit),
        )
        sendJson(ctx.res, 200, { stream, ...page })
      },
    },
    {
      methods: ['POST'],
      path: '/v1/api/users/:user/disconnect',
      auth: 'api-key',
      handle: async (ctx) => {
        const { fields } = logCall(ctx, logger, 'disconnect', {})
        const user = userParam(ctx)
        fields['user'] = user
        const body = await readObject(ctx.req, backendApiLimits.envelopeBytes, { optional: true })
        const reconnect = body['reconnect'] ?? false
        if (typeof reconnect !== 'boolean') {
          throw new SeqlineError(ErrorCode.BAD_REQUEST, '"reconnect" must be true or false')
        }
        fields['reconnect'] = reconnect
        const count = engine.sessions.disconnect(
          { user },
          !reconnect,
          reconnect ? 'disconnected by the server' : 'the access of this user was revoked',
        )
        sendJson(ctx.res, 200, { user, reconnect, connectionsOnThisNode: count })
      },
    },
    {
      methods: ['POST'],
      path: '/v1/api/users/:user/revoke',
      auth: 'api-key',
      handle: async (ctx) => {
        const { fields } = logCall(ctx, logger, 'revoke', {})
        const user = userParam(ctx)
        fields['user'] = user
        const body = await readObject(ctx.req, backendApiLimits.envelopeBytes, { optional: true })
        const stream = body['stream']
        if (stream !== undefined && !isValidStreamName(stream)) {
          throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
        }
        fields['stream'] = stream
        engine.sessions.revoke(user, stream)
        sendJson(ctx.res, 202, { user, stream: stream ?? null })
      },
    },
  ]
}

/**
 * The engine's producer id of an idempotency key sent with API key `keyId`: scoped to the key, so
 * that two backends using the same idempotency keys never take each other's publishes for
 * retries, and length-prefixed, so that no two (key id, idempotency key) pairs collide. Its own
 * namespace: client ids are `c_…`, HTTP producers `http:…`, `createServer`'s `server:…`.
 *
 * @example
 * apiProducerId('billing', 'invoice-42') // → 'api:7:billing:invoice-42'
 */
export function apiProducerId(keyId: string, idempotencyKey: string): string {
  return `api:${keyId.length}:${keyId}:${idempotencyKey}`
}

/**
 * Logs the call once it is answered, with its key id, its status and `fields` as they are then
 * (a handler adds what it learns from the body). Returns the key id and those fields.
 */
function logCall(
  ctx: RouteContext,
  logger: Logger,
  call: string,
  fields: Record<string, unknown>,
): { keyId: string; fields: Record<string, unknown> } {
  const keyId = ctx.apiKeyId as string
  ctx.res.once('finish', () => {
    logger.info({ keyId, call, ...fields, status: ctx.res.statusCode }, 'backend API call')
  })
  return { keyId, fields }
}

function userParam(ctx: RouteContext): string {
  const user = ctx.params['user'] as string
  if (!isValidUserId(user)) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Invalid user id')
  return user
}

/** A JSON object body of at most `limitBytes` (an empty body is `{}` when `optional`). */
async function readObject(
  req: IncomingMessage,
  limitBytes: number,
  { optional = false }: { readonly optional?: boolean } = {},
): Promise<Record<string, unknown>> {
  const text = (await readBody(req, limitBytes)).toString('utf8')
  if (text.trim() === '') {
    if (optional) return {}
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON object body')
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The body is not valid JSON')
  }
  if (!isObject(body)) throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON object')
  return body
}

/** Checks one message: `{stream, data, idempotencyKey?}`. */
function parseItem(raw: unknown): PublishItem {
  if (!isObject(raw)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'A message is a JSON object {stream, data}')
  }
  const { stream, data, idempotencyKey } = raw
  if (!isValidStreamName(stream)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  if (data === undefined) throw new SeqlineError(ErrorCode.BAD_REQUEST, '"data" is required')
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== 'string' ||
      idempotencyKey.length > backendApiLimits.maxIdempotencyKeyLength ||
      !IDEMPOTENCY_KEY.test(idempotencyKey))
  ) {
    throw new SeqlineError(
      ErrorCode.BAD_REQUEST,
      `"idempotencyKey" must be 1-${backendApiLimits.maxIdempotencyKeyLength} printable ASCII characters without spaces`,
    )
  }
  return { stream, data, idempotencyKey }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A batch item's failure as answered: its own code, or INTERNAL (logged) for anything else. */
function asSeqlineError(err: unknown, logger: Logger): SeqlineError {
  if (err instanceof SeqlineError && err.code !== ErrorCode.INTERNAL) return err
  logger.error({ err }, 'backend API batch publish failed')
  return new SeqlineError(ErrorCode.INTERNAL, 'Internal server error')
}
