import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

// A tab that closes for good tells the server with a beacon, `POST /v1/clients/<id>/closing`,
// that carries no token — a page being unloaded cannot fetch one — but proves that it holds the
// client's secret:
//
//   body: {"ts": <ms since the Unix epoch>, "mac": "<base64url HMAC-SHA256, 43 characters>"}
//   key:  the 32 raw bytes of SHA-256(client secret) — what the server stores, hex, as `secretHash`
//   mac:  HMAC-SHA256(key, "seqline-close:<clientId>:<ts>")
//
// The SDK computes it ahead of time (a page hiding cannot await crypto.subtle) and refreshes it
// every 60 s, so a proof is fresh for `maxAgeMs`. The client id in the message binds it to one
// client: it proves nothing about any other, even one of the same user.

/** Limits of a close proof. */
export const closeProofLimits = {
  /** How old `ts` may be: twice the SDK's refresh period. */
  maxAgeMs: 120_000,
  /** How far ahead of the server's clock `ts` may be (clock skew). */
  maxAheadMs: 30_000,
  /** The largest body read. */
  maxBodyBytes: 1_024,
} as const

/** A parsed close proof. */
export interface CloseProof {
  readonly ts: number
  readonly mac: Buffer
}

/** How a proof compares: good, outside the time window, or not made with the client's secret. */
export type CloseProofCheck = 'valid' | 'stale' | 'invalid'

const MAC_TEXT = /^[A-Za-z0-9_-]{43}=?$/
/** Stands in for the key of a client that does not exist, so that the check costs the same. */
const ABSENT_KEY = randomBytes(32)

/**
 * Parses a close proof body (sent as text/plain by a beacon; the content type is not checked).
 * BAD_REQUEST when it is not `{"ts": <integer>, "mac": "<base64url of 32 bytes>"}`.
 */
export function parseCloseProof(text: string): CloseProof {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The close proof is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a close proof {ts, mac}')
  }
  const { ts, mac } = body as { ts?: unknown; mac?: unknown }
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, '"ts" must be a time in ms (an integer)')
  }
  if (typeof mac !== 'string' || !MAC_TEXT.test(mac)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, '"mac" must be 32 bytes in base64url')
  }
  return { ts, mac: Buffer.from(mac, 'base64url') }
}

/**
 * The MAC of a close proof for `clientId` at `ts`, keyed by the client's stored secret hash (hex).
 *
 * @example
 * closeProofMac(hashSecret(secret), clientId, Date.now()).toString('base64url')
 */
export function closeProofMac(secretHash: string, clientId: string, ts: number): Buffer {
  return createHmac('sha256', Buffer.from(secretHash, 'hex'))
    .update(`seqline-close:${clientId}:${ts}`)
    .digest()
}

/**
 * Checks a proof at `now` against the client's secret hash (`undefined`: no such client). The
 * time window is checked first and alone (it says nothing about the client); then the MAC is
 * always computed and compared in constant time — with a stand-in key when the client does not
 * exist — so that neither the answer nor its timing tells whether a client exists.
 */
export function checkCloseProof(
  proof: CloseProof,
  clientId: string,
  secretHash: string | undefined,
  now: number,
): CloseProofCheck {
  if (proof.ts < now - closeProofLimits.maxAgeMs || proof.ts > now + closeProofLimits.maxAheadMs) {
    return 'stale'
  }
  const expected =
    secretHash === undefined
      ? createHmac('sha256', ABSENT_KEY).update(`seqline-close:${clientId}:${proof.ts}`).digest()
      : closeProofMac(secretHash, clientId, proof.ts)
  const matches = expected.length === proof.mac.length && timingSafeEqual(expected, proof.mac)
  return matches && secretHash !== undefined ? 'valid' : 'invalid'
}
