import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Engine } from '../../engine/engine.js'
import { sendJson } from '../json-error.js'
import { readJsonBody } from '../read-json-body.js'
import type { Route, RouteContext } from '../route.js'

/** Header that proves a request acts as one client (its secret, as in a WebSocket `hello`). */
export const CLIENT_SECRET_HEADER = 'seqline-client-secret'

/**
 * The clients of the token's user (G7, DESIGN §6):
 *
 * - `POST /v1/clients` → `201 {clientId, secret}`: registers one (the secret is shown once);
 * - `DELETE /v1/clients/:id` → 204: forgets one with its cursors; its connections end;
 * - `POST /v1/clients/:id/secret` → `200 {clientId, secret}`: rotates the secret; connections that
 *   used the old one end at once (a leaked secret is revoked);
 * - `POST /v1/clients/:id/acks` `{stream, offset}` → 204: acks as that client — which needs the
 *   client's secret in `Seqline-Client-Secret`, like a WebSocket `hello` (docs/decisions.md);
 * - `GET /v1/clients/:id/cursors` → `200 {cursors}`: the client's acked positions.
 *
 * Someone else's client is FORBIDDEN, an unknown one CLIENT_UNKNOWN.
 */
export function clientRoutes(engine: Engine, maxBodyBytes: number): Route[] {
  return [
    {
      methods: ['POST'],
      path: '/v1/clients',
      auth: 'user',
      handle: async ({ res, principal }) => {
        const { clientId, secret } = await engine.clients.register(principal.userId)
        res.setHeader('Cache-Control', 'no-store')
        sendJson(res, 201, { clientId, secret })
      },
    },
    {
      methods: ['DELETE'],
      path: '/v1/clients/:id',
      auth: 'user',
      handle: async ({ res, principal, params }) => {
        await engine.clients.forget(principal.userId, params['id'] as string)
        res.statusCode = 204
        res.end()
      },
    },
    {
      methods: ['POST'],
      path: '/v1/clients/:id/secret',
      auth: 'user',
      handle: async ({ res, principal, params }) => {
        const clientId = params['id'] as string
        const { secret } = await engine.clients.rotateSecret(principal.userId, clientId)
        res.setHeader('Cache-Control', 'no-store')
        sendJson(res, 200, { clientId, secret })
      },
    },
    {
      methods: ['POST'],
      path: '/v1/clients/:id/acks',
      auth: 'user',
      handle: async (ctx) => {
        const clientId = ctx.params['id'] as string
        const { stream, offset } = parseAck(
          await readJsonBody(ctx.req, { limitBytes: maxBodyBytes }),
        )
        // G8: a user acks only as their own client, proven by its secret, on streams they read.
        await engine.clients.verify(ctx.principal.userId, clientId, clientSecretOf(ctx))
        await engine.authorizer.check(ctx.principal, stream, 'read')
        await engine.cursors.ack(clientId, stream, offset)
        ctx.res.statusCode = 204
        ctx.res.end()
      },
    },
    {
      methods: ['GET', 'HEAD'],
      path: '/v1/clients/:id/cursors',
      auth: 'user',
      handle: async ({ res, principal, params }) => {
        const clientId = params['id'] as string
        await engine.clients.own(principal.userId, clientId)
        const cursors = await engine.cursors.ofClient(clientId)
        sendJson(res, 200, {
          cursors: cursors.map(({ stream, epoch, offset, updatedAt }) => ({
            stream,
            epoch,
            offset,
            updatedAt,
          })),
        })
      },
    },
  ]
}

function clientSecretOf(ctx: RouteContext): string {
  const value = ctx.req.headers[CLIENT_SECRET_HEADER]
  if (typeof value !== 'string' || value === '') {
    throw new SeqlineError(
      ErrorCode.FORBIDDEN,
      'Acting as a client needs its secret in the Seqline-Client-Secret header',
    )
  }
  return value
}

function parseAck(body: unknown): { stream: string; offset: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON object {stream, offset}')
  }
  const { stream, offset } = body as { stream?: unknown; offset?: unknown }
  if (!isValidStreamName(stream)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, '"offset" must be a non-negative integer')
  }
  return { stream, offset }
}
