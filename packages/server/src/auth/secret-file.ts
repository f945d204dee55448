import { readFileSync } from 'node:fs'

// Secrets (JWT keys, HMAC keys of the authorize callback and webhooks, API keys) never come from
// the command line: argv is visible to every user of the machine (`ps`) and kept in shell history.
// They come from a file (a mounted secret) or from an environment variable.

/**
 * Reads a secret from a file: its whole content without surrounding whitespace (so that the
 * trailing newline of `echo secret > file` is not part of it). Throws an `Error` naming the file
 * — never its content — when it cannot be read or is empty.
 *
 * @example
 * const secret = readSecretFile('/run/secrets/seqline-jwt', 'JWT secret')
 */
export function readSecretFile(path: string, what: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new Error(`Cannot read the ${what} file ${path}`, { cause })
  }
  const secret = text.trim()
  if (secret === '') throw new Error(`The ${what} file ${path} is empty`)
  return secret
}

/** Where {@link resolveSecret} may find a secret. */
export interface SecretSources {
  /** Path of a file holding the secret (a `--…-secret-file` flag). */
  readonly file?: string | undefined
  /** The environment to look in. */
  readonly env: NodeJS.ProcessEnv
  /** The variable holding the secret itself, e.g. `SEQLINE_AUTHORIZE_SECRET`. */
  readonly envName: string
  /** What the secret is for, in error messages: `authorize callback secret`. */
  readonly what: string
  /** The flag of the file, in error messages: `--authorize-secret-file`. */
  readonly fileFlag: string
}

/**
 * The secret of a file or of an environment variable, or `undefined` when neither is set. Both at
 * once is an error: which one wins would be a guess.
 *
 * @example
 * const secret = resolveSecret({
 *   file: config.authorizeSecretFile,
 *   env: process.env,
 *   envName: 'SEQLINE_AUTHORIZE_SECRET',
 *   what: 'authorize callback secret',
 *   fileFlag: '--authorize-secret-file',
 * })
 */
export function resolveSecret(sources: SecretSources): string | undefined {
  const fromEnv = sources.env[sources.envName]
  const hasEnv = fromEnv !== undefined && fromEnv.trim() !== ''
  if (sources.file !== undefined && hasEnv) {
    throw new Error(
      `The ${sources.what} is set twice, by ${sources.fileFlag} and by ${sources.envName}: keep one`,
    )
  }
  if (sources.file !== undefined) return readSecretFile(sources.file, sources.what)
  return hasEnv ? fromEnv.trim() : undefined
}
