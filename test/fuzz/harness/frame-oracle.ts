import { ErrorCode, SeqlineError, parseClientFrame } from '@seqline/protocol'
import type { FuzzFrame } from './frame-arbitraries.js'

/** The error codes a greeted connection may answer one frame with. */
export interface Expected {
  /** Exactly this code, and only it (a frame that fails validation). */
  readonly exactly?: string
  /** Otherwise: no error, or one of these. */
  readonly oneOf?: readonly string[]
}

/**
 * What the protocol (docs/protocol.md) says a greeted connection answers to `frame`: validation
 * failures have exactly one stable code; valid frames may fail only with the codes their handling
 * documents. A publish answers with `puback`/`nack`, never with `error`.
 */
export function expectedAnswer(frame: FuzzFrame): Expected {
  if ('binary' in frame) return { exactly: ErrorCode.BAD_FRAME }
  if ('nextPub' in frame) return { oneOf: [] }
  let parsed
  try {
    parsed = parseClientFrame(frame.text)
  } catch (err) {
    if (err instanceof SeqlineError) return { exactly: err.code }
    throw err
  }
  switch (parsed.t) {
    case 'hello':
      return { exactly: ErrorCode.ALREADY_GREETED }
    case 'sub':
      return { oneOf: [ErrorCode.TOO_MANY_STREAMS] }
    case 'unsub':
      return { oneOf: [ErrorCode.NOT_SUBSCRIBED] }
    case 'ack':
      return { oneOf: [ErrorCode.BAD_REQUEST, ErrorCode.STREAM_NOT_FOUND] }
    case 'signal':
      return { oneOf: [ErrorCode.PAYLOAD_TOO_LARGE] }
    case 'auth':
      // A token that does not authenticate the connection's user ends the connection.
      return { oneOf: [ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN] }
    case 'pub':
    case 'ping':
      return { oneOf: [] }
  }
}

/** Codes a `nack` may carry (protocol: producers and limits). */
export const NACK_CODES: ReadonlySet<string> = new Set([
  ErrorCode.PRODUCER_SEQ_GAP,
  ErrorCode.PRODUCER_FENCED,
  ErrorCode.INVALID_PRODUCER,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.RATE_LIMITED,
  ErrorCode.INVALID_STREAM_NAME,
  ErrorCode.INVALID_FRAME,
  ErrorCode.STREAM_CLOSED,
  ErrorCode.CONFLICT,
])

/** Explains why `codes` are not an answer `expected` allows; undefined when they are. */
export function mismatch(expected: Expected, codes: readonly string[]): string | undefined {
  if (expected.exactly !== undefined) {
    return codes.length === 1 && codes[0] === expected.exactly
      ? undefined
      : `expected exactly [${expected.exactly}], got [${codes.join(', ')}]`
  }
  const allowed = expected.oneOf ?? []
  if (codes.length === 0) return undefined
  if (codes.length === 1 && allowed.includes(codes[0] as string)) return undefined
  return `expected nothing or one of [${allowed.join(', ')}], got [${codes.join(', ')}]`
}
