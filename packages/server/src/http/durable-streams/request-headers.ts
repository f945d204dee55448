import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { ProducerRef } from '../../store/store.js'

// Parsing of the Durable Streams request headers. Every malformed value is a 400 (BAD_REQUEST or
// INVALID_PRODUCER) with a message naming the header; nothing here touches the store.

/** `Stream-TTL` and `Producer-*` integers: decimal digits, no sign, no leading zero (§5.1). */
const STRICT_INTEGER = /^(0|[1-9]\d*)$/
/** RFC 3339 date-time (§5.1 `Stream-Expires-At`), checked before `Date.parse` reads it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** One header's value; a repeated header counts as malformed, as a list is never meant. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  if (Array.isArray(value)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `The ${name} header is repeated`)
  }
  return value
}

/**
 * `Stream-Closed: true`, compared case-insensitively; any other value counts as absent and is no
 * error (§4.1 "Stream-Closed Header Value").
 */
export function wantsClose(req: IncomingMessage): boolean {
  const value = req.headers['stream-closed']
  return typeof value === 'string' && value.trim().toLowerCase() === 'true'
}

/** The expiry settings of a PUT: at most one of `Stream-TTL` and `Stream-Expires-At` (§5.1). */
export interface ExpiryHeaders {
  readonly ttlSeconds: number | undefined
  readonly expiresAt: number | undefined
}

/** Reads `Stream-TTL` / `Stream-Expires-At`. Both together are refused, as §5.1 recommends. */
export function parseExpiry(req: IncomingMessage): ExpiryHeaders {
  const ttl = header(req, 'stream-ttl')
  const expires = header(req, 'stream-expires-at')
  if (ttl !== undefined && expires !== undefined) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Stream-TTL and Stream-Expires-At are exclusive')
  }
  let ttlSeconds: number | undefined
  if (ttl !== undefined) {
    ttlSeconds = STRICT_INTEGER.test(ttl) ? Number(ttl) : Number.NaN
    if (!Number.isSafeInteger(ttlSeconds)) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Stream-TTL must be a non-negative integer')
    }
  }
  let expiresAt: number | undefined
  if (expires !== undefined) {
    expiresAt = RFC3339.test(expires.trim()) ? Date.parse(expires.trim()) : Number.NaN
    if (!Number.isFinite(expiresAt)) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Stream-Expires-At must be an RFC 3339 time')
    }
  }
  return { ttlSeconds, expiresAt }
}

/**
 * The `Producer-Id` / `Producer-Epoch` / `Producer-Seq` triple (§5.2.1): all three or none; a
 * non-empty id; epoch and seq non-negative integers ≤ 2^53 − 1.
 */
export function parseProducer(req: IncomingMessage): ProducerRef | undefined {
  const id = header(req, 'producer-id')
  const epoch = header(req, 'producer-epoch')
  const seq = header(req, 'producer-seq')
  if (id === undefined && epoch === undefined && seq === undefined) return undefined
  if (id === undefined || epoch === undefined || seq === undefined) {
    throw new SeqlineError(
      ErrorCode.INVALID_PRODUCER,
      'Producer-Id, Producer-Epoch and Producer-Seq must be sent together',
    )
  }
  if (id === '') throw new SeqlineError(ErrorCode.INVALID_PRODUCER, 'Producer-Id must not be empty')
  return {
    id,
    epoch: producerInteger(epoch, 'Producer-Epoch'),
    seq: producerInteger(seq, 'Producer-Seq'),
  }
}

function producerInteger(value: string, name: string): number {
  const n = STRICT_INTEGER.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n)) {
    throw new SeqlineError(ErrorCode.INVALID_PRODUCER, `${name} must be a non-negative integer`)
  }
  return n
}

/** The fork headers of a PUT (§4.2), still unresolved against the source. */
export interface ForkHeaders {
  /** `Stream-Forked-From`: a stream path, or the stream name itself. */
  readonly source: string
  /** `Stream-Fork-Offset`; the source's head when absent. */
  readonly offset: string | undefined
  readonly subOffset: number
}

/** Reads the fork headers; `undefined` for a plain PUT. */
export function parseFork(req: IncomingMessage): ForkHeaders | undefined {
  const source = header(req, 'stream-forked-from')
  const offset = header(req, 'stream-fork-offset')
  const sub = header(req, 'stream-fork-sub-offset')
  if (source === undefined) {
    if (offset !== undefined || sub !== undefined) {
      throw new SeqlineError(
        ErrorCode.BAD_REQUEST,
        'Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From',
      )
    }
    return undefined
  }
  let subOffset = 0
  if (sub !== undefined) {
    subOffset = STRICT_INTEGER.test(sub) ? Number(sub) : Number.NaN
    if (!Number.isSafeInteger(subOffset)) {
      throw new SeqlineError(
        ErrorCode.BAD_REQUEST,
        'Stream-Fork-Sub-Offset must be a non-negative integer',
      )
    }
    // A sub-offset refines an explicit fork point; "the head plus N" names nothing (§4.2).
    if (subOffset > 0 && offset === undefined) {
      throw new SeqlineError(
        ErrorCode.BAD_REQUEST,
        'Stream-Fork-Sub-Offset needs Stream-Fork-Offset',
      )
    }
  }
  return { source, offset, subOffset }
}
