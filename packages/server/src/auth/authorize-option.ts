import type { Logger } from 'pino'
import type { Authorize } from './authenticator.js'
import {
  type AuthorizeCallbackOptions,
  createAuthorizeCallback,
} from './callback/authorize-callback.js'
import { loadPermissionsFile } from './permissions/permissions-authorize.js'
import { formatIssue } from './permissions/permissions-file-error.js'
import { resolveSecret } from './secret-file.js'

/** The ways of deciding `authorize` a server may be given; at most one of them. */
export interface AuthorizeOptions {
  /** A hook written in code. */
  readonly authorize?: Authorize | undefined
  /** Path of a permissions file (docs/backends.md). */
  readonly permissions?: string | undefined
  /** The application's backend decides, over HTTP (docs/backends.md). */
  readonly authorizeCallback?: AuthorizeCallbackOptions | undefined
}

/**
 * The server's `authorize`: the hook, the compiled permissions file (its warnings logged), the
 * authorize callback, or `undefined` for the engine's default. Throws when more than one is given
 * — which one should win is not something to guess about permissions — and when the file is
 * malformed (`PermissionsFileError`, every problem with its line).
 *
 * @example
 * const authorize = resolveAuthorize({ permissions: './permissions.json' }, logger)
 */
export function resolveAuthorize(options: AuthorizeOptions, logger: Logger): Authorize | undefined {
  const given = [
    options.authorize === undefined ? undefined : 'an authorize hook',
    options.permissions === undefined ? undefined : 'a permissions file',
    options.authorizeCallback === undefined ? undefined : 'an authorize callback URL',
  ].filter((g) => g !== undefined)
  if (given.length > 1) {
    throw new Error(`Give one way of authorizing, not ${given.join(' and ')}`)
  }
  if (options.authorizeCallback !== undefined) {
    const callback = options.authorizeCallback
    const { protocol, hostname, origin } = new URL(callback.url)
    if (protocol === 'http:' && !isLoopback(hostname)) {
      logger.warn(
        { url: origin },
        'the authorize callback uses plain http: claims travel unencrypted (signed, not secret)',
      )
    }
    logger.info({ url: origin }, 'authorize callback enabled')
    return createAuthorizeCallback({ logger, ...callback })
  }
  if (options.permissions === undefined) return options.authorize
  const permissions = loadPermissionsFile(options.permissions)
  for (const warning of permissions.warnings) {
    logger.warn(`permissions: ${formatIssue(options.permissions, warning)}`)
  }
  logger.info(
    { file: options.permissions, rules: permissions.policy.rules.length },
    'permissions loaded: anything no rule allows is denied',
  )
  return permissions.authorize
}

/**
 * The secret of the authorize callback: `--authorize-secret-file` or `SEQLINE_AUTHORIZE_SECRET`,
 * never the command line. Throws when neither (or both) is set.
 */
export function readAuthorizeSecret(file: string | undefined, env: NodeJS.ProcessEnv): string {
  const secret = resolveSecret({
    file,
    env,
    envName: 'SEQLINE_AUTHORIZE_SECRET',
    what: 'authorize callback secret',
    fileFlag: '--authorize-secret-file',
  })
  if (secret === undefined) {
    throw new Error(
      '--authorize-url needs the secret its requests are signed with: --authorize-secret-file <path> or SEQLINE_AUTHORIZE_SECRET',
    )
  }
  return secret
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.')
}
