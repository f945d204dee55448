import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics.js'
import {
  type AppendRequest,
  type AppendResult,
  type CreateStreamInput,
  type CreateStreamResult,
  type JsonArrayChunk,
  JSON_CONTENT_TYPE,
  type StoredMessage,
  type Store,
  type StreamRecord,
} from '../store/store.js'
import { isExpired } from '../store/store-rules.js'
import type { Admission } from './admission.js'
import type { ClusterLink } from './cluster-link.js'
import type { PumpOptions } from './cursor-pump.js'
import { type EngineLifecycle, report } from './engine-lifecycle.js'
import type { Follower } from './follower.js'
import { GroupCommitter } from './group-committer.js'
import { type CommitEvent, StreamFollowers } from './stream-followers.js'
import { type ReaderEvents, StreamReader } from './stream-reader.js'

/** What `Streams` is built from. */
export interface StreamsDeps {
  readonly store: Store
  readonly followers: StreamFollowers
  readonly admission: Admission
  readonly logger: Logger
  readonly metrics: Metrics
  readonly now: () => number
  readonly pump: PumpOptions
  /** The other nodes (multi-node), told of commits and deletions. */
  readonly cluster: () => ClusterLink | undefined
  /** A stream is gone (deleted here or elsewhere): its subscribers must be told. */
  readonly gone: (stream: string) => void
  /** Told of deletions (webhooks). */
  readonly lifecycle?: EngineLifecycle | undefined
}

/**
 * The streams and their log (DESIGN §3): group-committed appends fanned out to each stream's
 * followers, stream metadata, reads, and live reads on the cursor pumps. What the HTTP door and
 * the server API do to streams goes through here; sessions append through it too.
 */
export class Streams {
  readonly #committer: GroupCommitter
  #closed = false

  constructor(private readonly deps: StreamsDeps) {
    this.#committer = new GroupCommitter(deps.store, (batch, results, seconds) =>
      this.#committed(batch, results, seconds),
    )
  }

  /**
   * Queues an append for the next group commit. The call enqueues synchronously, so appends made
   * in order commit in order. Resolves once committed (or rejected by validation). Admission is
   * the caller's: sessions and the HTTP door admit before they append.
   */
  append(request: Omit<AppendRequest, 'now'>): Promise<AppendResult> {
    if (this.#closed) {
      return Promise.reject(new SeqlineError(ErrorCode.SHUTTING_DOWN, 'server is shutting down'))
    }
    return this.#committer.append({ ...request, now: this.deps.now() })
  }

  /**
   * Server-side publish of one JSON value, with the same durability as a client's (G1): resolves
   * after commit. Creates the stream if needed. With a `producer`, a retry with the same seq is
   * recognised (G4) and answered with the first publish's offset.
   */
  async publish(
    stream: string,
    data: unknown,
    options: {
      readonly from?: string | null
      readonly producer?: { readonly id: string; readonly epoch: number; readonly seq: number }
    } = {},
  ): Promise<{ epoch: string; offset: number; duplicate: boolean }> {
    if (!isValidStreamName(stream)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    const payload = this.deps.admission.encodeJson(data)
    const result = await this.append({
      stream,
      payloads: [payload],
      from: options.from ?? null,
      producer: options.producer,
      contentType: JSON_CONTENT_TYPE,
      createIfMissing: { contentType: JSON_CONTENT_TYPE },
    })
    if (result.kind === 'rejected') {
      throw new SeqlineError(result.code, result.message, {
        details: result.expectedSeq === undefined ? undefined : { expectedSeq: result.expectedSeq },
      })
    }
    if (result.kind === 'duplicate') {
      return { epoch: result.epoch, offset: result.offset, duplicate: true }
    }
    const offset = result.messages.at(-1)?.offset ?? result.head
    return { epoch: result.epoch, offset, duplicate: false }
  }

  async create(input: Omit<CreateStreamInput, 'now'>): Promise<CreateStreamResult> {
    const result = await this.deps.store.createStream({ ...input, now: this.deps.now() })
    if (result.kind === 'created') {
      const { name, epoch, head, closed, contentType } = result.stream
      // Followers waiting for it (offset 0, no epoch yet) learn its epoch and content type.
      this.deps.followers.advance({ stream: name, epoch, head, closed, messages: [], contentType })
      if (head > 0) this.deps.cluster()?.announce(name, epoch, head, closed)
    }
    return result
  }

  get(name: string): Promise<StreamRecord | undefined> {
    return this.deps.store.getStream(name)
  }

  /** Messages after `after`: at most `limit` and, past the first, `maxBytes`; see `Store.read`. */
  read(name: string, after: number, limit: number, maxBytes?: number): Promise<StoredMessage[]> {
    return this.deps.store.read(name, after, limit, maxBytes)
  }

  /** A JSON stream's messages after `after` as one JSON array; see `Store.readJsonArray`. */
  readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    return this.deps.store.readJsonArray(name, after, limit, maxBytes)
  }

  /** Marks a read or write for the sliding TTL (Durable Streams §5.1). */
  touch(name: string): Promise<void> {
    return this.deps.store.touchStream(name, this.deps.now())
  }

  /** Deletes a stream. Its followers, here and on every node, are told. */
  async delete(name: string): Promise<boolean> {
    // Internal streams (the webhook log) are outside the name pattern: no caller deletes them.
    if (!isValidStreamName(name)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    const { store, lifecycle, logger, now } = this.deps
    // Whether it goes because it expired (the expiry job, or a request that found it so).
    const record = lifecycle === undefined ? undefined : await store.getStream(name)
    const existed = await store.deleteStream(name)
    this.deps.gone(name)
    if (existed) {
      this.deps.cluster()?.deleted(name)
      const reason = record !== undefined && isExpired(record, now()) ? 'expired' : 'deleted'
      await report(lifecycle, logger, (l) => l.streamDeleted(name, reason))
    }
    return existed
  }

  /**
   * A live read of `stream` from `position` into `follower` (Durable Streams SSE and long-poll):
   * the same pump, window and high-water mark as a subscription. `start()` it once the caller is
   * ready for its events (they may come at once); stop it with `unfollow`.
   */
  async follow(
    record: StreamRecord,
    position: number,
    follower: Follower,
    events: ReaderEvents,
  ): Promise<StreamReader> {
    const { hub } = await this.deps.followers.open(record.name, record)
    return new StreamReader(hub, follower, this.deps.store, events, this.deps.pump, position)
  }

  unfollow(reader: StreamReader): void {
    reader.stop()
    this.deps.followers.release(reader.hub)
  }

  /** Commits what is queued and accepts no more appends. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#committer.close()
  }

  #committed(
    batch: readonly AppendRequest[],
    results: readonly AppendResult[],
    seconds: number,
  ): void {
    const { metrics } = this.deps
    metrics.commitLatency.observe(seconds)
    metrics.commitBatchSize.observe(batch.length)
    // One fan-out per stream per batch, with all of the batch's messages of that stream: each
    // follower then gets them in one write, not one write per message. Streams are independent,
    // so grouping by stream keeps every order a follower can see.
    const commits = new Map<string, BatchCommit>()
    results.forEach((result, i) => {
      metrics.publishes.inc({ result: result.kind })
      const request = batch[i]
      if (result.kind !== 'appended' || request === undefined) return
      const commit = commits.get(request.stream)
      if (commit !== undefined && commit.epoch === result.epoch) {
        commit.head = result.head
        commit.closed = result.closed
        for (const message of result.messages) commit.messages.push(message)
        return
      }
      // A stream recreated within the batch: what came before goes out first.
      if (commit !== undefined) this.#fanOut(commit)
      commits.set(request.stream, {
        stream: request.stream,
        epoch: result.epoch,
        head: result.head,
        closed: result.closed,
        messages: [...result.messages],
        contentType: request.createIfMissing?.contentType ?? request.contentType,
      })
    })
    const cluster = this.deps.cluster()
    for (const commit of commits.values()) {
      this.#fanOut(commit)
      cluster?.announce(commit.stream, commit.epoch, commit.head, commit.closed)
    }
  }

  #fanOut(commit: CommitEvent): void {
    try {
      this.deps.followers.advance(commit)
    } catch (err) {
      this.deps.logger.error({ err, stream: commit.stream }, 'fan-out failed')
    }
  }
}

/** What one batch committed to one stream, gathered for one fan-out. */
interface BatchCommit {
  readonly stream: string
  readonly epoch: string
  head: number
  closed: boolean
  readonly messages: StoredMessage[]
  readonly contentType?: string | undefined
}
