import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Engine } from '../engine/engine.js'
import { sendJson } from './json-error.js'

/** A route this file serves: its metric label and the handler. */
export interface ClientSecretRouteMatch {
  readonly route: string
  readonly run: () => Promise<void>
}

const CLIENT_SECRET_PATH = /^\/v1\/clients\/([^/]+)\/secret$/

/**
 * `POST /v1/clients/:id/secret` (user token) → `200 {clientId, secret}`: rotates the secret of one
 * of the user's own clients (G8: FORBIDDEN for someone else's, CLIENT_UNKNOWN for none). The old
 * secret is refused by every later `hello` — the way to revoke a leaked one.
 */
export function matchClientSecretRoute(
  req: IncomingMessage,
  res: ServerResponse,
  engine: Pick<Engine, 'rotateClientSecret'>,
  authenticate: (req: IncomingMessage) => Promise<string>,
): ClientSecretRouteMatch | undefined {
  if (req.method !== 'POST') return undefined
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/'
  const match = CLIENT_SECRET_PATH.exec(path)
  if (match === null) return undefined
  return {
    route: '/v1/clients/:id/secret',
    run: async () => {
      const userId = await authenticate(req)
      let clientId: string
      try {
        clientId = decodeURIComponent(match[1] ?? '')
      } catch {
        throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Malformed client id in the path')
      }
      const { secret } = await engine.rotateClientSecret(userId, clientId)
      res.setHeader('Cache-Control', 'no-store')
      sendJson(res, 200, { clientId, secret })
    },
  }
}
