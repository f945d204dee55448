import { SignJWT } from 'jose'

/** The HS256 secret the auth suites start servers with (a file or `SEQLINE_AUTH`, never argv). */
export const TEST_JWT_SECRET = 'a-test-secret-that-is-at-least-32-bytes-long'

/** Options of {@link signToken}. */
export interface SignTokenOptions {
  /** Seconds from now until `exp`; `null` for a token without `exp`. Default 300. */
  readonly expiresInSec?: number | null
  readonly secret?: string
}

/**
 * Signs an HS256 JWT for `sub` with extra claims, as an application's identity backend would.
 *
 * @example
 * const token = await signToken('alice', { rooms: ['general'], role: 'admin' })
 */
export function signToken(
  sub: string,
  claims: Record<string, unknown> = {},
  options: SignTokenOptions = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt()
  const expiresIn = options.expiresInSec === undefined ? 300 : options.expiresInSec
  if (expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET))
}
