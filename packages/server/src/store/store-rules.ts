import { randomBytes } from 'node:crypto'
import { ErrorCode } from '@seqline/protocol'
import { checkProducer } from './producer-check.js'
import type {
  AppendRequest,
  CreateStreamInput,
  CreateStreamResult,
  AppendResult,
  ProducerState,
  RetentionPolicy,
  StoredMessage,
  StreamFork,
  StreamRecord,
  TrimRequest,
  UnreadQuery,
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
  if (stream.softDeleted) {
    // A tombstone kept for its forks (Durable Streams §4.2): gone for every direct operation.
    return { kind: 'rejected', code: ErrorCode.GONE, message: `stream ${stream.name} was deleted` }
  }
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
    fork: null,
    softDeleted: false,
  }
}

/** Drops unset limits, and a policy without any limit becomes `null`, as the stores read it back. */
function normalizeRetention(policy: RetentionPolicy | null | undefined): RetentionPolicy | null {
  if (policy === null || policy === undefined) return null
  const { maxAgeMs, maxCount, untilAcked } = policy
  if (maxAgeMs === undefined && maxCount === undefined && untilAcked !== true) return null
  return {
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    ...(maxCount === undefined ? {} : { maxCount }),
    ...(untilAcked === true ? { untilAcked } : {}),
  }
}

/** The policy of a stream row's retention columns (SQL NULL: no such limit). */
export function retentionOfColumns(
  maxAgeMs: number | null,
  maxCount: number | null,
  untilAcked: boolean,
): RetentionPolicy | null {
  return normalizeRetention({
    maxAgeMs: maxAgeMs ?? undefined,
    maxCount: maxCount ?? undefined,
    untilAcked,
  })
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
 * How far a cursor is behind a stream's head: `head − offset` when the cursor is in the stream's
 * current epoch (never below 0), `null` for a cursor of another epoch or a stream that is gone.
 */
export function cursorLag(
  cursor: { readonly epoch: string; readonly offset: number },
  stream: { readonly epoch: string; readonly head: number } | undefined,
): number | null {
  if (stream === undefined || stream.epoch !== cursor.epoch) return null
  return Math.max(0, stream.head - cursor.offset)
}

/**
 * How many unread messages `findUnread` counts per row: `maxCount` (at least 1: the first unread
 * message is always counted), or all of them when there is no cap.
 */
export function unreadCountCap(query: UnreadQuery): number {
  return query.maxCount === undefined ? Number.POSITIVE_INFINITY : Math.max(1, query.maxCount)
}

/** What a trim reads from the store besides the stream row, in one statement (see `trimmedTail`). */
export interface TrimInputs {
  /**
   * The lowest retained offset whose message is young enough for `maxAgeMs` (undefined when no
   * message is, or when the policy has no age limit).
   */
  readonly youngestCut: number | undefined
  /**
   * With `untilAcked`: the lowest cursor offset of the clients following the stream (undefined
   * when none follows it, or when the policy is not `untilAcked`).
   */
  readonly ackedThrough: number | undefined
}

/**
 * The tail after a trim (see `RetentionPolicy`).
 *
 * Trimming removes a prefix: the retained range stays gapless ([tail, head]), which replay
 * relies on. By age, it stops at the first young-enough message even if an older timestamp
 * follows (clocks of different nodes may disagree), so it never drops a message early.
 */
export function trimmedTail(
  stream: StreamRecord,
  request: TrimRequest,
  inputs: TrimInputs,
): number {
  const end = stream.head + 1
  let tail = stream.tail
  const { maxCount, maxAgeMs, untilAcked } = request.policy
  if (maxCount !== undefined) tail = Math.max(tail, end - Math.max(0, maxCount))
  if (maxAgeMs !== undefined) tail = Math.max(tail, inputs.youngestCut ?? end)
  if (untilAcked === true && inputs.ackedThrough !== undefined) {
    tail = Math.max(tail, inputs.ackedThrough + 1)
  }
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
    !stream.softDeleted &&
    sameFork(stream.fork, input.fork) &&
    normalizeContentType(stream.contentType) === normalizeContentType(input.contentType) &&
    stream.ttlSeconds === (input.ttlSeconds ?? null) &&
    stream.expiresAt === (input.expiresAt ?? null) &&
    stream.closed === (input.closed ?? false)
  )
}

/** Fork lineages match when both are absent, or name the same source and fork point (§4.2). */
function sameFork(a: StreamFork | null, b: StreamFork | undefined): boolean {
  if (a === null || b === undefined) return a === null && b === undefined
  return a.source === b.source && a.offset === b.offset && a.subOffset === (b.subOffset ?? 0)
}

/** Whether a stream's absolute expiry or sliding TTL has passed at `now` (Durable Streams §5.1). */
export function isExpired(stream: StreamRecord, now: number): boolean {
  if (stream.expiresAt !== null && now >= stream.expiresAt) return true
  return stream.ttlSeconds !== null && now >= stream.lastAccessAt + stream.ttlSeconds * 1000
}

/**
 * The highest source offset a fork needs to read: the fork point, plus the sub-offset's messages
 * (JSON streams) or the message whose prefix it takes (other streams).
 */
export function forkReadThrough(source: StreamRecord, fork: StreamFork): number {
  const sub = fork.subOffset
  if (sub === 0) return fork.offset
  return isJsonType(source.contentType) ? fork.offset + sub : fork.offset + 1
}

/** What a fork creation writes: the fork's record and its inherited messages. */
export type ForkPlan =
  | { readonly kind: 'accept'; readonly stream: StreamRecord; readonly messages: StoredMessage[] }
  | Extract<CreateStreamResult, { kind: 'rejected' }>

/**
 * Validates a fork against its source and computes the fork (Durable Streams §4.2) from `read`,
 * the source's retained messages up to `forkReadThrough`. The fork shares the source's epoch, so
 * that a position names the same data in both (§8 "Offsets and forked streams"). Inherited
 * messages lose their producer fields: forks never inherit producer state (§4.2).
 */
export function planFork(
  source: StreamRecord | undefined,
  input: CreateStreamInput & { readonly fork: StreamFork },
  read: readonly StoredMessage[],
): ForkPlan {
  const { fork } = input
  if (source === undefined) {
    return reject(ErrorCode.STREAM_NOT_FOUND, `source stream ${fork.source} does not exist`)
  }
  if (source.softDeleted) {
    return reject(
      ErrorCode.CONFLICT,
      `source stream ${fork.source} was deleted but still has forks`,
    )
  }
  if (normalizeContentType(source.contentType) !== normalizeContentType(input.contentType)) {
    return reject(
      ErrorCode.CONFLICT,
      `content type does not match the source's ${source.contentType}`,
    )
  }
  if (fork.offset > source.head) {
    return reject(ErrorCode.BAD_REQUEST, 'the fork offset is beyond the source stream')
  }
  const sub = fork.subOffset
  let head = fork.offset
  const messages = read
    .filter((m) => m.offset <= fork.offset)
    .map((m) => ({ ...m, producer: null, seq: null }))
  if (sub > 0) {
    if (isJsonType(source.contentType)) {
      // JSON: a sub-offset counts flattened messages past the fork offset.
      head = fork.offset + sub
      if (head > source.head) {
        return reject(ErrorCode.BAD_REQUEST, 'the fork sub-offset is beyond the source stream')
      }
      for (const m of read) {
        if (m.offset > fork.offset && m.offset <= head)
          messages.push({ ...m, producer: null, seq: null })
      }
    } else {
      // Bytes: a sub-offset takes a prefix of the next message, never more than that message.
      const next = read.find((m) => m.offset === fork.offset + 1)
      if (next === undefined || sub > next.data.byteLength) {
        return reject(
          ErrorCode.BAD_REQUEST,
          'the fork sub-offset is past the next message boundary',
        )
      }
      head = fork.offset + 1
      messages.push({ ...next, producer: null, seq: null, data: next.data.slice(0, sub) })
    }
  }
  const base = newStreamRecord(input.name, input.contentType, input.now, input)
  const stream: StreamRecord = {
    ...base,
    epoch: source.epoch,
    head,
    // The source may have trimmed part of what the fork inherits: the fork starts where it can.
    tail: Math.min(source.tail, head + 1),
    fork: { source: fork.source, offset: fork.offset, subOffset: sub },
  }
  return { kind: 'accept', stream, messages }
}

function reject(
  code: ErrorCode,
  message: string,
): Extract<CreateStreamResult, { kind: 'rejected' }> {
  return { kind: 'rejected', code, message }
}

function isJsonType(contentType: string): boolean {
  return normalizeContentType(contentType) === 'application/json'
}
