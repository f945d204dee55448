import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Engine } from '../../engine/engine.js'
import { sendJson } from '../json-error.js'
import type { Route } from '../route.js'

/** Default and largest page of `GET /v1/presence/<stream>`. */
export const presencePageDefaults = { limit: 100, maxLimit: 1_000 } as const

/**
 * `GET /v1/presence/<stream>?after=<user>&limit=<n>` → `{stream, mode, users, count, next?}`: who
 * is connected to the stream on every node, sorted by user id, one page at a time (pass `next` as
 * `after`). Needs the `presence` right. In `counts` mode only `count` is given.
 */
export function presenceRoute(engine: Engine): Route {
  return {
    methods: ['GET', 'HEAD'],
    path: '/v1/presence/*stream',
    auth: 'user',
    handle: async ({ res, principal, params, query }) => {
      const stream = params['stream'] as string
      await engine.authorizer.check(principal, stream, 'presence')
      const after = query.get('after') ?? undefined
      const limitText = query.get('limit')
      const limit = limitText === null ? presencePageDefaults.limit : Number(limitText)
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new SeqlineError(ErrorCode.BAD_REQUEST, '"limit" must be a positive integer')
      }
      const page = engine.presence.page(
        stream,
        after,
        Math.min(limit, presencePageDefaults.maxLimit),
      )
      sendJson(res, 200, { stream, ...page })
    },
  }
}
