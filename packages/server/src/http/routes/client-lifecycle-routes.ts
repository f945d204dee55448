import { closeProofLimits } from '../../engine/close-proof.js'
import type { Engine } from '../../engine/engine.js'
import { readBody } from '../read-body.js'
import type { Route } from '../route.js'

/**
 * `POST /v1/clients/:id/closing` with `{"ts": <ms>, "mac": "<base64url>"}` → 204: the tab of this
 * client closed for good (the SDK's beacon on `pagehide`). No token — the body proves that the
 * sender holds the client's secret (engine/close-proof.ts) — so any origin may send it, as a
 * beacon does. The client is forgotten once it stays unseen for `--forget-grace-ms`.
 *
 * A malformed body is BAD_REQUEST; a proof outside its time window is FORBIDDEN with `reason:
 * 'stale'`; any other refusal (a wrong MAC, a proof of another client, no such client) is the
 * same FORBIDDEN with `reason: 'invalid'`.
 */
export function clientLifecycleRoutes(engine: Engine): Route[] {
  return [
    {
      methods: ['POST'],
      path: '/v1/clients/:id/closing',
      auth: 'none',
      cors: true,
      handle: async ({ req, res, params }) => {
        const body = await readBody(req, closeProofLimits.maxBodyBytes)
        await engine.closing.close(params['id'] as string, body.toString('utf8'))
        res.statusCode = 204
        res.setHeader('Cache-Control', 'no-store')
        res.end()
      },
    },
  ]
}
