import { readFileSync } from 'node:fs'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'
import type { Principal } from './authenticator.js'
import { isValidUserId } from './user-id.js'

/** Where the verification keys come from. */
export type JwtKeySource =
  /** A shared HS256 secret (at least 32 bytes, RFC 7518 §3.2). */
  | { readonly secret: string | Uint8Array }
  /** Path of a JSON Web Key Set file (`{ "keys": [...] }`) holding public keys. */
  | { readonly jwksFile: string }
  /** A JSON Web Key Set given inline. */
  | { readonly jwks: JSONWebKeySet }

/** Claims checks applied on top of the signature. */
export interface JwtAuthOptions {
  /** Required `iss` claim. */
  readonly issuer?: string | undefined
  /** Required `aud` claim (one of them). */
  readonly audience?: string | readonly string[] | undefined
  /** Claim that holds the user id. Default `sub`. */
  readonly userClaim?: string | undefined
  /** Allowed clock skew for `exp` / `nbf` / `iat`, in seconds. Default 5. */
  readonly clockToleranceSec?: number | undefined
  /**
   * Whether a token must carry `exp`. Default `true`: a token without an expiry stays valid
   * forever once leaked, and an open connection could never be told that it ran out. Set `false`
   * (`--jwt-require-exp false`) only for an identity provider that cannot set one.
   */
  readonly requireExp?: boolean | undefined
}

/** Verifies a token and returns who it authenticates (the `Authenticate` of JWT auth). */
export type JwtAuthenticate = (token: string) => Promise<Principal>

/** Minimum HS256 key length: the key must be at least as long as the hash output (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32

// Asymmetric algorithms accepted with a JWKS. HMAC is deliberately absent: a JWKS holds public
// keys, and accepting HS* with them would let anyone who knows a public key forge tokens.
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]

/**
 * Creates an `Authenticate` that verifies JWTs with jose: HS256 with a shared secret, or the
 * public keys of a JWKS (a file read once, at creation, so that a bad file fails at startup).
 * It resolves with a `Principal`: the user id (the `sub` claim, or `userClaim`), every claim of
 * the verified payload (what permission rules and the authorize callback look at), and the
 * expiry (`exp` × 1000).
 *
 * A token is refused when it has no `exp` (unless `requireExp: false`), or when its user id is
 * not a valid one (`USER_ID_PATTERN`: no spaces, newlines, `<`, at most 200 characters).
 *
 * An expired token rejects with `TOKEN_EXPIRED` (the client then fetches a fresh one); every other
 * failure (bad signature, wrong issuer, missing claim…) with `UNAUTHENTICATED` and the same generic
 * message: the reason goes to `cause` for server logs, never to the client.
 *
 * @example
 * const authenticate = createJwtAuthenticate({ secret: process.env.JWT_SECRET! }, { issuer: 'acme' })
 */
export function createJwtAuthenticate(
  source: JwtKeySource,
  options: JwtAuthOptions = {},
): JwtAuthenticate {
  const userClaim = options.userClaim ?? 'sub'
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience === undefined ? undefined : [options.audience].flat(),
    clockTolerance: options.clockToleranceSec ?? 5,
    requiredClaims: options.requireExp === false ? [] : ['exp'],
  }

  let verify: (token: string) => Promise<JWTPayload>
  if ('secret' in source) {
    const key =
      typeof source.secret === 'string' ? new TextEncoder().encode(source.secret) : source.secret
    if (key.byteLength < MIN_SECRET_BYTES) {
      throw new Error(
        `JWT secret is too short: HS256 needs at least ${MIN_SECRET_BYTES} bytes (RFC 7518 §3.2)`,
      )
    }
    verify = async (token) =>
      (await jwtVerify(token, key, { ...verifyOptions, algorithms: ['HS256'] })).payload
  } else {
    const jwks = 'jwks' in source ? source.jwks : readJwksFile(source.jwksFile)
    const keySet = createLocalJWKSet(jwks)
    verify = async (token) =>
      (await jwtVerify(token, keySet, { ...verifyOptions, algorithms: ASYMMETRIC_ALGORITHMS }))
        .payload
  }

  return async (token) => {
    let payload: JWTPayload
    try {
      payload = await verify(token)
    } catch (cause) {
      // An expired token is said so (a client then fetches a fresh one); every other failure
      // gets the same generic answer, its reason only in `cause`, for the server's logs.
      if (cause instanceof errors.JWTExpired) {
        throw new SeqlineError(ErrorCode.TOKEN_EXPIRED, 'The token expired', { cause })
      }
      throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid or expired token', { cause })
    }
    const userId = payload[userClaim]
    if (!isValidUserId(userId)) {
      throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid or expired token', {
        cause: new Error(`claim "${userClaim}" is missing or not a valid user id`),
      })
    }
    return {
      userId,
      claims: payload,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
    }
  }
}

/** Reads and shape-checks a JWKS file, with errors that name the file. */
function readJwksFile(path: string): JSONWebKeySet {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new Error(`Cannot read JWKS file ${path}`, { cause })
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`JWKS file ${path} has no "keys" array`)
  }
  return parsed as JSONWebKeySet
}
