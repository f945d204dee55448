import { statSync } from 'node:fs'
import { anonymousAuthenticate } from './anonymous-auth.js'
import type { Authenticate } from './authenticator.js'
import { devAuthenticate } from './dev-auth.js'
import { createJwtAuthenticate, type JwtAuthOptions } from './jwt-auth.js'
import { readSecretFile } from './secret-file.js'

/**
 * Where an `--auth` value came from. A value from `argv` is visible to every user of the machine
 * (`ps`) and lands in shell history, so it must not carry a secret.
 */
export type AuthOptionOrigin = 'argv' | 'env' | 'code'

/** Options of {@link parseAuthOption} besides the claims checks. */
export interface ParseAuthOptions {
  /** Default `code`: given to `createServer`, or the built-in default. */
  readonly origin?: AuthOptionOrigin | undefined
}

/**
 * Turns the `--auth` / `SEQLINE_AUTH` option into an `Authenticate`:
 *
 * - `dev`: {@link devAuthenticate} (insecure: the token is the user id);
 * - `none`: {@link anonymousAuthenticate} (no auth at all: everyone is user `anonymous`);
 * - `jwt:<path>.json`: JWTs checked against the JWKS in that file (which must exist);
 * - `jwt:file:<path>`: HS256 JWTs with the shared secret held in that file;
 * - `jwt:<secret>`: HS256 JWTs with that shared secret — refused when the value came from the
 *   command line (`origin: 'argv'`): use `jwt:file:<path>` or the `SEQLINE_AUTH` variable.
 *
 * @example
 * const authenticate = parseAuthOption('jwt:./keys/jwks.json', { issuer: 'https://id.acme.test' })
 */
export function parseAuthOption(
  option: string,
  jwtOptions: JwtAuthOptions = {},
  { origin = 'code' }: ParseAuthOptions = {},
): Authenticate {
  if (option === 'dev') return devAuthenticate
  if (option === 'none') return anonymousAuthenticate
  if (option.startsWith('jwt:')) {
    // Everything after the first colon: a secret may itself contain colons.
    const value = option.slice('jwt:'.length)
    if (value === '') throw new Error('Auth option "jwt:" needs a secret or a path to a JWKS file')
    if (value.startsWith('file:')) {
      const path = value.slice('file:'.length)
      if (path === '') throw new Error('Auth option "jwt:file:" needs the path of a secret file')
      return createJwtAuthenticate({ secret: readSecretFile(path, 'JWT secret') }, jwtOptions)
    }
    if (value.endsWith('.json')) {
      // A missing key file must not silently become an HS256 secret that happens to be a path.
      if (!isFile(value)) throw new Error(`JWKS file not found: ${value}`)
      return createJwtAuthenticate({ jwksFile: value }, jwtOptions)
    }
    if (origin === 'argv') {
      throw new Error(
        'Refusing a JWT secret given on the command line, where every user of the machine can ' +
          'read it (ps, shell history): use --auth jwt:file:<path-to-secret-file>, or set the ' +
          'environment variable SEQLINE_AUTH=jwt:<secret>',
      )
    }
    return createJwtAuthenticate({ secret: value }, jwtOptions)
  }
  // Echo only the scheme: the rest may be a secret that must not end up in logs.
  const scheme = option.includes(':') ? ` "${option.slice(0, option.indexOf(':'))}:…"` : ''
  throw new Error(
    `Unknown auth option${scheme}: expected "dev", "none", "jwt:file:<path>", "jwt:<path-to-jwks.json>" or (environment only) "jwt:<secret>"`,
  )
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}
