import { randomBytes } from 'node:crypto'
import { ErrorCode } from '@seqline/protocol'
import { checkProducer } from './producer-check.js'
import type {
  AppendRequest,
  CreateStreamInput,
  AppendResult,
  ProducerState,
  RetentionPolicy,
  StoredMessage,
  StreamRecord,
  TrimRequest,
} from './store.js'

// The rules every Store shares, so that they agree to the letter (the conformance suite checks
// the outcome; this keeps the order of checks and the arithmetic in one place). Like
// producer-check.ts it is pure: the store reads state through `AppendLookup` and writes nothing
// until the verdict is `accept`, which is what makes "a rejected request writes nothing" hold
// inside a group commit.

/** What `checkAppend` needs to read from the store, inside the append transaction. */
export interface AppendLookup {
  producer(producerId: string): ProducerState | undefined
  /** Highest offset written by that exact publish, if any of its messages is still retained. */
  offsetOf(producerId: string, producerEpoch: number, seq: number): number | undefined
}

/** `accept`: the store writes the request. Anything else is the request's final result. */
export type AppendVerdict =
  | { readonly kind: 'accept' }
  | Extract<AppendResult, { kind: 'duplicate' }>
  | Extract<AppendResult, { kind: 'rejected' }>
  /** A close-only request on a stream that is already closed: idempotent, nothing to write. */
  | Extract<AppendResult, { kind: 'appended' }>

/**
 * Rejects a request that is malformed whatever the stream's state. Checked before the stream is
 * looked up, so that a malformed request never creates a stream through `createIfMissing`.
 */
export function checkAppendShape(
  request: AppendRequest,
): Extract<AppendResult, { kind: 'rejected' }> | undefined {
  if (request.payloads.length === 0 && request.close !== true) {
    return {
      kind: 'rejected',
      code: ErrorCode.BAD_REQUEST,
      message: 'an append needs at least one message unless it closes the stream',
    }
  }
  return undefined
}

/**
 * Validates one request against a stream (an existing one, or the record `createIfMissing` would
 * create). Precedence follows Durable Streams §5.2: closure first, then content type, then the
 * producer (so that the retry of an accepted publish is a duplicate even though its `Stream-Seq`
 * is no longer greater), then `Stream-Seq`.
 */
export function checkAppend(
  stream: StreamRecord,
  request: AppendRequest,
  lookup: AppendLookup,
): AppendVerdict {
  const ref = request.producer
  if (stream.closed) {
    if (ref !== undefined && sameProducerRef(stream.closedBy, ref)) {
      // The retry of the publish that closed the stream (Durable Streams §5.2.1).
      const state = lookup.producer(ref.id)
      const offset =
        state !== undefined && state.epoch === ref.epoch && state.lastSeq === ref.seq
          ? state.lastOffset
          : (lookup.offsetOf(ref.id, ref.epoch, ref.seq) ?? 0)
      return {
        kind: 'duplicate',
        epoch: stream.epoch,
        offset,
        lastSeq: ref.seq,
        closed: true,
      }
    }
    if (ref === undefined && request.payloads.length === 0 && request.close === true) {
      // "Close-only requests are idempotent" (Durable Streams §5.2): nothing to write, success.
      return {
        kind: 'appended',
        epoch: stream.epoch,
        messages: [],
        head: stream.head,
        closed: true,
      }
    }
    return {
      kind: 'rejected',
      code: ErrorCode.STREAM_CLOSED,
      message: `stream ${stream.name} is closed`,
      closed: true,
    }
  }

  // A close-only request may carry any Content-Type: there is no body to mismatch (§5.2).
  if (
    request.contentType !== undefined &&
    request.payloads.length > 0 &&
    normalizeContentType(request.contentType) !== normalizeContentType(stream.contentType)
  ) {
    return {
      kind: 'rejected',
      code: ErrorCode.CONFLICT,
      message: `content type ${request.contentType} does not match the stream's ${stream.contentType}`,
    }
  }

  if (ref !== undefined) {
    const verdict = checkProducer(lookup.producer(ref.id), ref)
    if (verdict.kind === 'rejected') return verdict
    if (verdict.kind === 'duplicate') {
      // checkProducer only knows the last publish; an older one is found through the index on
      // (stream, producer, producer_epoch, seq). 0 once retention has trimmed its messages.
      const offset =
        ref.seq === verdict.lastSeq
          ? verdict.offset
          : (lookup.offsetOf(ref.id, ref.epoch, ref.seq) ?? 0)
      return {
        kind: 'duplicate',
        epoch: stream.epoch,
        offset,
        lastSeq: verdict.lastSeq,
        closed: false,
      }
    }
  }

  if (
    request.streamSeq !== undefined &&
    stream.streamSeq !== null &&
    compareStreamSeq(request.streamSeq, stream.streamSeq) <= 0
  ) {
    return {
      kind: 'rejected',
      code: ErrorCode.CONFLICT,
      message: `Stream-Seq ${request.streamSeq} is not greater than ${stream.streamSeq}`,
    }
  }
  return { kind: 'accept' }
}

/** What an accepted request changes; the store persists all of it in the append transaction. */
export interface AppendPlan {
  /** The stream row after the append. */
  readonly stream: StreamRecord
  /** The new messages, offsets `head + 1 …` of the stream before the append. */
  readonly messages: readonly StoredMessage[]
  /** The producer's row after the append, when the request names a producer. */
  readonly producer: ProducerState | undefined
  readonly result: Extract<AppendResult, { kind: 'appended' }>
}

/** Computes the effect of an accepted request (after `checkAppend` returned `accept`). */
export function planAppend(stream: StreamRecord, request: AppendRequest): AppendPlan {
  const ref = request.producer
  const messages = request.payloads.map((data, i): StoredMessage => ({
    offset: stream.head + 1 + i,
    producer: ref?.id ?? null,
    seq: ref?.seq ?? null,
    from: request.from,
    ts: request.now,
    data,
  }))
  const head = stream.head + messages.length
  const close = request.close === true
  const next: StreamRecord = {
    ...stream,
    head,
    closed: stream.closed || close,
    closedBy:
      close && ref !== undefined ? { id: ref.id, epoch: ref.epoch, seq: ref.seq } : stream.closedBy,
    streamSeq: request.streamSeq ?? stream.streamSeq,
    lastAccessAt: Math.max(stream.lastAccessAt, request.now),
  }
  // A close-only publish writes no message; its "last offset" is the stream's final offset, so
  // that its retry acknowledges the position the stream was closed at.
  const producer: ProducerState | undefined =
    ref === undefined
      ? undefined
      : { epoch: ref.epoch, lastSeq: ref.seq, lastOffset: head, updatedAt: request.now }
  return {
    stream: next,
    messages,
    producer,
    result: {
      kind: 'appended',
      epoch: stream.epoch,
      messages,
      head,
      closed: next.closed,
      producer,
    },
  }
}

/**
 * The stream record an append with `createIfMissing` creates, and a `createStream` starts from:
 * empty (head 0, tail 1) with a fresh epoch.
 */
export function newStreamRecord(
  name: string,
  contentType: string,
  now: number,
  options: Partial<Pick<StreamRecord, 'ttlSeconds' | 'expiresAt' | 'retention'>> = {},
): StreamRecord {
  return {
    name,
    epoch: newStreamEpoch(),
    contentType,
    head: 0,
    tail: 1,
    createdAt: now,
    closed: false,
    closedBy: null,
    ttlSeconds: options.ttlSeconds ?? null,
    expiresAt: options.expiresAt ?? null,
    lastAccessAt: now,
    streamSeq: null,
    retention: normalizeRetention(options.retention),
  }
}

/** Drops unset limits, and a policy without any limit becomes `null`, as the SQLite row reads back. */
function normalizeRetention(policy: RetentionPolicy | null | undefined): RetentionPolicy | null {
  if (policy === null || policy === undefined) return null
  const { maxAgeMs, maxCount } = policy
  if (maxAgeMs === undefined && maxCount === undefined) return null
  return {
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    ...(maxCount === undefined ? {} : { maxCount }),
  }
}

const EPOCH_SPACE = 36n ** 10n

/** A random stream epoch: 10 base-36 characters (~51 bits), so a recreated stream never reuses one. */
export function newStreamEpoch(): string {
  const n = randomBytes(8).readBigUInt64BE() % EPOCH_SPACE
  return n.toString(36).padStart(10, '0')
}

/**
 * Media type without parameters, lower-cased: `application/json; charset=utf-8` and
 * `Application/JSON` name the same stream type (as the Durable Streams reference server does).
 */
export function normalizeContentType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase()
}

/** `Stream-Seq` values compare byte-wise (Durable Streams §5.2), not by UTF-16 code unit. */
export function compareStreamSeq(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function sameProducerRef(
  a: StreamRecord['closedBy'],
  b: NonNullable<AppendRequest['producer']>,
): boolean {
  return a !== null && a.id === b.id && a.epoch === b.epoch && a.seq === b.seq
}

/**
 * The tail after a trim. `youngestCut` is the lowest retained offset whose message is young
 * enough for `maxAgeMs` (undefined when no message is, or when there is no age limit).
 *
 * Trimming removes a prefix: the retained range stays gapless ([tail, head]), which replay
 * relies on. By age, it stops at the first young-enough message even if an older timestamp
 * follows (clocks of different nodes may disagree), so it never drops a message early.
 */
export function trimmedTail(
  stream: StreamRecord,
  request: TrimRequest,
  youngestCut: number | undefined,
): number {
  const end = stream.head + 1
  let tail = stream.tail
  const { maxCount, maxAgeMs } = request.policy
  if (maxCount !== undefined) tail = Math.max(tail, end - Math.max(0, maxCount))
  if (maxAgeMs !== undefined) tail = Math.max(tail, youngestCut ?? end)
  if (request.keepFrom !== undefined) tail = Math.min(tail, Math.max(stream.tail, request.keepFrom))
  return Math.min(tail, end)
}

/**
 * Whether `createStream` with this input is idempotent against the existing stream: same content
 * type, TTL, expiry and closure status (Durable Streams §5.1). Retention is a Seqline setting the
 * operator may change, so it does not take part.
 */
export function sameStreamConfig(stream: StreamRecord, input: CreateStreamInput): boolean {
  return (
    normalizeContentType(stream.contentType) === normalizeContentType(input.contentType) &&
    stream.ttlSeconds === (input.ttlSeconds ?? null) &&
    stream.expiresAt === (input.expiresAt ?? null) &&
    stream.closed === (input.closed ?? false)
  )
}
