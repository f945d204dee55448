import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import { ANONYMOUS_USER, anonymousAuthenticate } from '../auth/anonymous-auth.js'
import {
  type Authenticate,
  type Authorize,
  type Principal,
  allowAll,
  defaultAuthorize,
  toPrincipal,
} from '../auth/authenticator.js'
import { devAuthenticate } from '../auth/dev-auth.js'
import { parseAuthOption } from '../auth/parse-auth-option.js'
import type { ServerSettings } from '../settings/server-settings.js'

/** How the server authenticates and authorises, resolved from its options. */
export interface ServerAuth {
  /** The principal of a token; rejects with UNAUTHENTICATED or TOKEN_EXPIRED (never with anything else). */
  readonly authenticate: (token: string) => Promise<Principal>
  readonly authorize: Authorize
  /** The principal of requests without a token (`--auth none`), if any. */
  readonly anonymous: Principal | undefined
  /** Dev or no auth: anyone who reaches the server can be anyone. */
  readonly insecure: boolean
}

/**
 * Resolves `auth` (a hook or `dev` / `none` / `jwt:…`) and `authorize` (a hook, else the default:
 * everything but `manage`; with no auth at all, everything). Refuses insecure auth when
 * `NODE_ENV=production` (F3): a production deployment must name real authentication.
 */
export function resolveServerAuth(
  auth: string | Authenticate,
  authorize: Authorize | undefined,
  settings: ServerSettings,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): ServerAuth {
  const hook = typeof auth === 'function' ? auth : parseAuthOption(auth, settings.jwt)
  const insecure = hook === devAuthenticate || hook === anonymousAuthenticate
  if (insecure && env.NODE_ENV === 'production') {
    throw new Error(
      `Auth "${hook === devAuthenticate ? 'dev' : 'none'}" is refused with NODE_ENV=production: ` +
        'anyone could act as anyone. Use jwt:file:<secret-file>, jwt:<jwks.json> or an authenticate hook.',
    )
  }
  if (hook === devAuthenticate) {
    logger.warn(
      '!!! INSECURE dev auth is enabled: any token is accepted as the user id. Never use it in production: set auth to jwt:… !!!',
    )
  }
  if (hook === anonymousAuthenticate) {
    logger.warn(
      `!!! NO auth (--auth none): every request runs as user "${ANONYMOUS_USER}", no token needed. Only for public data and conformance runs !!!`,
    )
  }
  return {
    authenticate: async (token) => {
      try {
        return toPrincipal(await hook(token))
      } catch (err) {
        // Whatever a custom hook throws, the client learns only that the token was refused.
        if (
          err instanceof SeqlineError &&
          (err.code === ErrorCode.UNAUTHENTICATED || err.code === ErrorCode.TOKEN_EXPIRED)
        ) {
          throw err
        }
        if (!(err instanceof SeqlineError)) logger.error({ err }, 'authenticate hook failed')
        throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid token', { cause: err })
      }
    },
    // With no auth there is one user: "managing" streams is everybody's, as everything else.
    authorize: authorize ?? (hook === anonymousAuthenticate ? allowAll : defaultAuthorize),
    anonymous: hook === anonymousAuthenticate ? { userId: ANONYMOUS_USER, claims: {} } : undefined,
    insecure,
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])

/** Whether `host` is a loopback interface (only this machine can connect). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.')
}

/**
 * The interface to listen on: the one given, else loopback with dev/none auth (F3: anyone on the
 * network would be anyone) and every interface otherwise. Insecure auth on anything but loopback
 * needs the loudly named `exposeInsecureAuth` (`--dangerously-expose-insecure-auth`).
 */
export function listenHost(
  host: string | undefined,
  auth: ServerAuth,
  settings: ServerSettings,
): string {
  const chosen = host ?? settings.host ?? (auth.insecure ? '127.0.0.1' : '0.0.0.0')
  if (auth.insecure && !isLoopback(chosen) && !settings.exposeInsecureAuth) {
    throw new Error(
      `Refusing to listen on ${chosen} with dev/none auth: anyone who reaches it could act as ` +
        'anyone. Listen on 127.0.0.1, use jwt auth, or pass --dangerously-expose-insecure-auth.',
    )
  }
  return chosen
}
