import { createHmac, timingSafeEqual } from 'node:crypto'

// How Seqline signs what it sends to the application's backend (the authorize callback, webhook
// deliveries), in the style of Stripe's webhook signatures:
//
//   Seqline-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// t is the Unix time in seconds when the request was signed; v1 is the lower-case hex
// HMAC-SHA256, keyed with the shared secret, of `${t}.${body}` — the raw request body bytes, as
// received, before any JSON parsing. The receiver recomputes it, compares in constant time, and
// refuses a t too far from its own clock (a replayed request). docs/backends.md has receivers in
// C# and Python.

/** The header that carries the signature. */
export const SIGNATURE_HEADER = 'Seqline-Signature'

/** How far from the receiver's clock a signature's `t` may be, by default: 5 minutes. */
export const SIGNATURE_TOLERANCE_SEC = 300

/** Shortest accepted signing secret: as long as the hash output (RFC 2104 §3). */
export const MIN_SIGNING_SECRET_LENGTH = 32

/**
 * The `Seqline-Signature` value of `body` signed at `timestampSec`.
 *
 * @example
 * const header = signBody(secret, JSON.stringify(payload), Math.floor(Date.now() / 1000))
 */
export function signBody(secret: string, body: string, timestampSec: number): string {
  return `t=${timestampSec},v1=${hmacHex(secret, timestampSec, body)}`
}

/** Options of {@link verifySignature}. */
export interface VerifySignatureOptions {
  /** Default {@link SIGNATURE_TOLERANCE_SEC}. */
  readonly toleranceSec?: number
  /** The receiver's clock, Unix seconds. Default: now. */
  readonly nowSec?: number
}

/**
 * Whether `header` is a valid signature of `body` under `secret`, made within the tolerance of
 * now. The reference implementation of what a receiver does (tests, Node receivers).
 *
 * @example
 * if (!verifySignature(secret, req.headers['seqline-signature'], rawBody)) return res.status(401)
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: VerifySignatureOptions = {},
): boolean {
  if (header === undefined) return false
  const fields = new Map<string, string[]>()
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) return false
    const key = part.slice(0, eq).trim()
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()])
  }
  const t = fields.get('t')?.[0]
  if (t === undefined || !/^\d{1,12}$/.test(t)) return false
  const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000)
  if (Math.abs(nowSec - Number(t)) > (options.toleranceSec ?? SIGNATURE_TOLERANCE_SEC)) return false
  const expected = Buffer.from(hmacHex(secret, Number(t), body), 'hex')
  // Several v1 values may be sent while a secret is being rotated; one match is enough.
  return (fields.get('v1') ?? []).some((candidate) => {
    if (!/^[0-9a-f]{64}$/.test(candidate)) return false
    return timingSafeEqual(Buffer.from(candidate, 'hex'), expected)
  })
}

/** Throws when `secret` is too short to sign with; `what` names it in the message. */
export function checkSigningSecret(secret: string, what: string): void {
  if (secret.length < MIN_SIGNING_SECRET_LENGTH) {
    throw new Error(
      `The ${what} is too short: use at least ${MIN_SIGNING_SECRET_LENGTH} characters (openssl rand -hex 32)`,
    )
  }
}

function hmacHex(secret: string, timestampSec: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex')
}
