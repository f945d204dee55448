import type { Authorize } from '../../packages/server/src/auth/authenticator.js'
import type { ServerSettings } from '../../packages/server/src/settings/server-settings.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'

/** Private streams: `user:<id>` only for that user; everything else for everyone. */
export const privateUserStreams: Authorize = (userId, stream) =>
  !stream.startsWith('user:') || stream === `user:${userId}`

/** A server for the security suite, with its own limits. */
export interface SecurityServer {
  readonly server: SeqlineServer
  readonly url: string
  readonly wsUrl: string
  /** `fetch` with `Authorization: Bearer <token>` (dev auth: the token is the user id). */
  as(token: string | undefined, path: string, init?: RequestInit): Promise<Response>
  close(): Promise<void>
}

/** Starts an in-process server (dev auth, memory store) on port 0 with `privateUserStreams`. */
export async function startSecurityServer(
  limits: Partial<ServerSettings['limits']> = {},
): Promise<SecurityServer> {
  const server = await createServer({
    store: 'memory:',
    auth: 'dev',
    authorize: privateUserStreams,
    logLevel: 'silent',
    limits,
  })
  const { port } = await server.listen(0, '127.0.0.1')
  const url = `http://127.0.0.1:${port}`
  return {
    server,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    as: (token, path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.headers as Record<string, string> | undefined),
        },
      }),
    close: () => server.close(),
  }
}

/** Reads an error body and checks its shape: `{error: {code, message}}`, nothing else. */
export async function errorOf(
  res: Response,
): Promise<{ status: number; code: string; body: string }> {
  const body = await res.text()
  const parsed = JSON.parse(body) as { error?: { code?: unknown } }
  return { status: res.status, code: String(parsed.error?.code), body }
}
