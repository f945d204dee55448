import { statSync } from 'node:fs'
import { anonymousAuthenticate } from './anonymous-auth.js'
import type { Authenticate } from './authenticator.js'
import { devAuthenticate } from './dev-auth.js'
import { createJwtAuthenticate, type JwtAuthOptions } from './jwt-auth.js'

/**
 * Turns the `--auth` / `SEQLINE_AUTH` option into an `Authenticate`:
 *
 * - `dev`: {@link devAuthenticate} (insecure: the token is the user id);
 * - `none`: {@link anonymousAuthenticate} (no auth at all: everyone is user `anonymous`);
 * - `jwt:<path>.json`: JWTs checked against the JWKS in that file (which must exist);
 * - `jwt:<secret>`: HS256 JWTs with that shared secret.
 *
 * @example
 * const authenticate = parseAuthOption('jwt:./keys/jwks.json', { issuer: 'https://id.acme.test' })
 */
export function parseAuthOption(option: string, jwtOptions: JwtAuthOptions = {}): Authenticate {
  if (option === 'dev') return devAuthenticate
  if (option === 'none') return anonymousAuthenticate
  if (option.startsWith('jwt:')) {
    // Everything after the first colon: a secret may itself contain colons.
    const value = option.slice('jwt:'.length)
    if (value === '') throw new Error('Auth option "jwt:" needs a secret or a path to a JWKS file')
    if (value.endsWith('.json')) {
      // A missing key file must not silently become an HS256 secret that happens to be a path.
      if (!isFile(value)) throw new Error(`JWKS file not found: ${value}`)
      return createJwtAuthenticate({ jwksFile: value }, jwtOptions)
    }
    return createJwtAuthenticate({ secret: value }, jwtOptions)
  }
  // Echo only the scheme: the rest may be a secret that must not end up in logs.
  const scheme = option.includes(':') ? ` "${option.slice(0, option.indexOf(':'))}:…"` : ''
  throw new Error(
    `Unknown auth option${scheme}: expected "dev", "none", "jwt:<secret>" or "jwt:<path-to-jwks.json>"`,
  )
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}
