import type { Logger } from 'pino'
import type { Authorize } from './authenticator.js'
import { loadPermissionsFile } from './permissions/permissions-authorize.js'
import { formatIssue } from './permissions/permissions-file-error.js'

/** The ways of deciding `authorize` a server may be given; at most one of them. */
export interface AuthorizeOptions {
  /** A hook written in code. */
  readonly authorize?: Authorize | undefined
  /** Path of a permissions file (docs/backends.md). */
  readonly permissions?: string | undefined
}

/**
 * The server's `authorize`: the hook, or the compiled permissions file (its warnings logged), or
 * `undefined` for the engine's default. Throws when more than one is given — which one should
 * win is not something to guess about permissions — and when the file is malformed
 * (`PermissionsFileError`, every problem with its line).
 *
 * @example
 * const authorize = resolveAuthorize({ permissions: './permissions.json' }, logger)
 */
export function resolveAuthorize(options: AuthorizeOptions, logger: Logger): Authorize | undefined {
  if (options.authorize !== undefined && options.permissions !== undefined) {
    throw new Error('Give either an authorize hook or a permissions file, not both')
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
