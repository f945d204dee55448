import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import { isValidUserId } from '../../auth/user-id.js'
import { deliveryStateLimits } from '../../engine/delivery-state.js'
import type { Engine } from '../../engine/engine.js'
import { sendJson } from '../json-error.js'
import type { Route, RouteContext } from '../route.js'

// Delivery state, for support ("user X says they never got message Y", docs/operations.md):
//
//   GET /v1/api/delivery/streams/<stream>?user=&after=&limit=&holders=   (API key)
//       → {stream, epoch, head, tail, retention: {policy, source}, followers: [...], holders: [...], next}
//   GET /v1/api/delivery/clients/<clientId>?after=&limit=                 (API key)
//       → {clientId, userId, createdAt, lastSeenAt, closing, streams: [...], next}
//   GET /v1/clients/<clientId>/streams?after=&limit=                      (the client's user)
//       → the same, for one's own client
//
// Pages are keyset-paginated: pass `next` as `after` until it is null.

const MAX_AFTER_LENGTH = 256

/** The delivery-state routes (see the table above). */
export function deliveryStateRoutes(options: {
  readonly engine: Engine
  readonly logger: Logger
}): Route[] {
  const { engine, logger } = options
  return [
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/api/delivery/streams/*stream',
      auth: 'api-key',
      handle: async (ctx) => {
        const stream = ctx.params['stream'] as string
        logCall(ctx, logger, 'delivery-stream', { stream })
        const user = ctx.query.get('user') ?? undefined
        if (user !== undefined && !isValidUserId(user)) {
          throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Invalid user id')
        }
        const state = await engine.delivery.ofStream(stream, {
          userId: user,
          after: afterOf(ctx),
          limit: countOf(ctx, 'limit', deliveryStateLimits.maxLimit),
          holders: countOf(ctx, 'holders', deliveryStateLimits.maxHolders),
        })
        sendJson(ctx.res, 200, state)
      },
    },
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/api/delivery/clients/:id',
      auth: 'api-key',
      handle: async (ctx) => {
        const clientId = ctx.params['id'] as string
        logCall(ctx, logger, 'delivery-client', { clientId })
        const state = await engine.delivery.ofClient(clientId, {
          after: afterOf(ctx),
          limit: countOf(ctx, 'limit', deliveryStateLimits.maxLimit),
        })
        sendJson(ctx.res, 200, state)
      },
    },
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/clients/:id/streams',
      auth: 'user',
      handle: async (ctx) => {
        const clientId = ctx.params['id'] as string
        // G8: one's own clients only (FORBIDDEN for another user's, CLIENT_UNKNOWN for none).
        await engine.clients.own(ctx.principal.userId, clientId)
        const state = await engine.delivery.ofClient(clientId, {
          after: afterOf(ctx),
          limit: countOf(ctx, 'limit', deliveryStateLimits.maxLimit),
        })
        sendJson(ctx.res, 200, state)
      },
    },
  ]
}

/** A positive integer query parameter, at most `max` (larger asks get `max`); absent: undefined. */
function countOf(ctx: RouteContext, name: string, max: number): number | undefined {
  const text = ctx.query.get(name)
  if (text === null) return undefined
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN
  if (!(n >= 1))
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `"${name}" must be a positive integer`)
  return Math.min(n, max)
}

function afterOf(ctx: RouteContext): string | undefined {
  const after = ctx.query.get('after')
  if (after === null) return undefined
  if (after === '' || after.length > MAX_AFTER_LENGTH) {
    throw new SeqlineError(
      ErrorCode.BAD_REQUEST,
      `"after" must be 1-${MAX_AFTER_LENGTH} characters`,
    )
  }
  return after
}

/** Logs the call once answered, with the id of its API key (never the key) and its status. */
function logCall(
  ctx: RouteContext,
  logger: Logger,
  call: string,
  fields: Record<string, unknown>,
): void {
  const keyId = ctx.apiKeyId
  ctx.res.once('finish', () => {
    logger.info({ keyId, call, ...fields, status: ctx.res.statusCode }, 'backend API call')
  })
}
