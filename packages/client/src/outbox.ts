import {
  ErrorCode,
  type NackFrame,
  type PubFrame,
  type PubackFrame,
  SeqlineError,
} from '@seqline/protocol'
import { type BackoffOptions, backoffDelay } from './backoff.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock } from './clock.js'
import { type Entry, OutboxQueue, type ProducerState, type StoredEntry } from './outbox-queue.js'
import { randomId } from './random-id.js'
import type { Storage } from './storage/storage.js'
import type { StorageWrite, StorageWriter } from './storage-writer.js'

/** The outcome of a committed publish. */
export interface PublishResult {
  readonly stream: string
  /** Offset of the message in the stream. */
  readonly offset: number
  /** Stream epoch the offset belongs to. */
  readonly epoch: string
  /** Producer sequence number the publish was sent with. */
  readonly seq: number
  /** The server had already committed it (a retry after a lost `puback`). */
  readonly duplicate: boolean
}

/** What an {@link Outbox} needs from its owner. */
export interface OutboxOptions {
  /** Read at `load()`. */
  readonly storage: Storage
  /** Every write goes through it: retried with backoff until it succeeds. */
  readonly writer: StorageWriter
  readonly clock: Clock
  readonly random: () => number
  /** Sends a frame if the connection is open; returns whether it was sent. */
  send(frame: PubFrame): boolean
  /** Delay policy for RATE_LIMITED retries. */
  readonly backoff: BackoffOptions
  /** Unacknowledged publishes sent ahead per stream. */
  readonly maxInFlight: number
  /** A publish finished: committed (`result`) or refused for good (`error`). */
  onSettled(entry: { stream: string; seq: number }, outcome: PublishOutcome): void
}

/** How a publish ended. */
export type PublishOutcome =
  | { readonly kind: 'committed'; readonly result: PublishResult }
  | { readonly kind: 'failed'; readonly error: Error }

/**
 * The persistent outbox (DESIGN §4). Every publish gets the next seq of its stream under the
 * producer's current epoch and is written to storage *before* it is sent, so a seq is never reused
 * for other data. It is sent when the connection is open, pipelined up to `maxInFlight`, and sent
 * again after every reconnect until its `puback` — idempotent, so retries never duplicate. A new
 * instance on the same storage loads the same entries and re-sends them with the same seqs.
 *
 * A storage write that fails is retried with backoff by the {@link StorageWriter} (each failure is
 * an `error` event); the entries it concerns simply wait to be sent until it succeeds.
 *
 * Producer id = client id. When the server replaces the client id (see {@link Outbox.rebind}) the
 * pending entries are renumbered from 0 under a new producer epoch. Each stream's queue is a small
 * state machine: see `outbox-queue.ts`.
 */
export class Outbox {
  readonly #options: OutboxOptions
  readonly #queues = new Map<string, OutboxQueue>()
  readonly #waiters = new Map<
    string,
    { resolve: (r: PublishResult) => void; reject: (e: Error) => void }
  >()
  readonly #idleWaiters = new Set<() => void>()
  #namespace = ''
  #defaultEpoch = 0
  #open = false
  #closed = false
  #loaded = false
  #markLoaded!: () => void
  /** Resolves once `load()` finished (or the outbox closed). */
  readonly #whenLoaded = new Promise<void>((resolve) => (this.#markLoaded = resolve))

  constructor(options: OutboxOptions) {
    this.#options = options
  }

  /** Pending publishes over all streams. */
  get size(): number {
    let n = 0
    for (const queue of this.#queues.values()) n += queue.entries.length
    return n
  }

  /** Loads pending entries and producer states stored under `namespace`. */
  async load(namespace: string, defaultEpoch: number): Promise<void> {
    this.#namespace = namespace
    this.#defaultEpoch = defaultEpoch
    const storage = this.#options.storage
    const [entryKeys, producerKeys] = await Promise.all([
      storage.keys(`${namespace}ob/`),
      storage.keys(`${namespace}pr/`),
    ])
    const producers = new Map<string, ProducerState>()
    for (const key of producerKeys) {
      const state = await storage.get<ProducerState>(key)
      if (state !== undefined) producers.set(key.slice(`${namespace}pr/`.length), state)
    }
    const byStream = new Map<string, StoredEntry[]>()
    for (const key of entryKeys) {
      const entry = await storage.get<StoredEntry>(key)
      if (entry === undefined) continue
      const list = byStream.get(entry.stream) ?? []
      list.push(entry)
      byStream.set(entry.stream, list)
    }
    for (const stream of new Set([...producers.keys(), ...byStream.keys()])) {
      const stored = (byStream.get(stream) ?? []).sort((a, b) => a.epoch - b.epoch || a.seq - b.seq)
      const producer = producers.get(stream) ?? { epoch: defaultEpoch, nextSeq: 0 }
      const queue = this.#queue(stream, producer)
      queue.entries = stored.map((entry) => ({ ...entry, local: false, persisted: true }))
      const last = stored.at(-1)
      const consistent = stored.every(
        (entry, i) => entry.epoch === producer.epoch && entry.seq === (stored[0]?.seq ?? 0) + i,
      )
      if (!consistent) {
        // Interrupted renumbering (crash mid-write): start a fresh epoch from seq 0, so no seq of the
        // new numbering can collide with one the server already holds.
        const epoch = Math.max(producer.epoch, ...stored.map((e) => e.epoch), defaultEpoch) + 1
        this.#renumber(queue, epoch, 0, queue.entries)
      } else if (last !== undefined) {
        queue.producer = { ...producer, nextSeq: Math.max(producer.nextSeq, last.seq + 1) }
      }
    }
    this.#loaded = true
    this.#markLoaded()
  }

  /** Enqueues a publish; resolves once committed. */
  publish(stream: string, data: unknown): Promise<PublishResult> {
    if (this.#closed) return Promise.reject(closedError())
    // An app may publish right after createClient(), before the namespace and the stored producer
    // states are known: numbering it now would use the wrong key and epoch (and `load` would then
    // overwrite the queue). Callbacks on one promise run in registration order, so the publishes
    // keep their call order.
    if (!this.#loaded) return this.#whenLoaded.then(() => this.publish(stream, data))
    const queue = this.#queue(stream)
    if (queue.state.kind === 'fenced') return Promise.reject(queue.state.error)
    const entry: Entry = {
      id: randomId(),
      stream,
      epoch: queue.producer.epoch,
      seq: queue.producer.nextSeq,
      data,
      local: true,
      persisted: false,
    }
    queue.producer = { ...queue.producer, nextSeq: queue.producer.nextSeq + 1 }
    queue.entries.push(entry)
    const promise = new Promise<PublishResult>((resolve, reject) => {
      this.#waiters.set(entry.id, { resolve, reject })
    })
    this.#persist(queue, [entry])
    return promise
  }

  /** The connection opened: send everything pending. */
  opened(): void {
    this.#open = true
    for (const queue of this.#queues.values()) {
      queue.transition({ kind: 'sending', sent: 0 })
      this.#pump(queue)
    }
  }

  /** The connection was lost: nothing counts as sent any more. */
  disconnected(): void {
    this.#open = false
    for (const queue of this.#queues.values()) queue.transition({ kind: 'offline' })
  }

  puback(frame: PubackFrame): void {
    const queue = this.#queues.get(frame.stream)
    if (queue === undefined) return
    const index = queue.entries.findIndex((entry) => entry.seq === frame.seq)
    // A second puback for a publish sent twice (a retry racing its answer) finds nothing: fine.
    if (index < 0) return
    const entry = this.#remove(queue, index)
    queue.progressed()
    const result: PublishResult = {
      stream: frame.stream,
      offset: frame.offset,
      epoch: frame.epoch,
      seq: frame.seq,
      duplicate: frame.duplicate === true,
    }
    this.#settle(entry, { kind: 'committed', result })
    this.#pump(queue)
  }

  nack(frame: NackFrame): void {
    const queue = this.#queues.get(frame.stream)
    if (queue === undefined) return
    const entry = queue.entries.find((e) => e.seq === frame.seq)
    switch (frame.code) {
      case ErrorCode.PRODUCER_FENCED: {
        // Another instance with this client id publishes under a newer epoch. Re-sending ours
        // under a bumped epoch could duplicate messages, so everything pending fails loudly.
        const error = new SeqlineError(
          ErrorCode.PRODUCER_FENCED,
          `publisher fenced on ${frame.stream}: another instance of this client uses producer epoch ` +
            `${frame.producerEpoch ?? '?'} (ours: ${queue.producer.epoch})`,
          { details: { producerEpoch: frame.producerEpoch } },
        )
        queue.transition({ kind: 'fenced', error })
        for (const pending of [...queue.entries]) this.#fail(queue, pending, error, false)
        return
      }
      case ErrorCode.PRODUCER_SEQ_GAP: {
        const first = queue.entries[0]
        if (
          frame.expectedSeq !== undefined &&
          first !== undefined &&
          frame.expectedSeq < first.seq
        ) {
          // The server expects a lower seq than any we hold: nothing pending was committed
          // (a committed seq ≥ expected would have been acknowledged), so renumber from there.
          this.#renumber(queue, queue.producer.epoch, frame.expectedSeq, queue.entries)
        }
        // Usually the echo of an earlier refused frame in the pipeline: send again from the start.
        queue.wait(0)
        return
      }
      case ErrorCode.RATE_LIMITED:
        queue.wait()
        return
      case ErrorCode.INVALID_PRODUCER:
        // The server has no record of our epoch yet we did not start at 0: nothing of this epoch
        // was committed, so renumber everything from 0 in a fresh epoch.
        this.#renumber(queue, queue.producer.epoch + 1, 0, queue.entries)
        queue.wait(0)
        return
      default:
        // PAYLOAD_TOO_LARGE, FORBIDDEN, STREAM_CLOSED, …: this publish can never succeed.
        if (entry !== undefined) {
          this.#fail(
            queue,
            entry,
            new SeqlineError(frame.code, frame.message, { details: { stream: frame.stream } }),
          )
        }
        queue.wait(0)
    }
  }

  /**
   * The server gave this client a new client id, i.e. a new producer id with no producer state.
   * - `'unknown'`: the old id was garbage-collected. Every pending entry is ours: renumber them from
   *   seq 0 under a new producer epoch. An entry that was in flight when the old id was last used
   *   and whose puback was lost may be committed twice — the only at-least-once window.
   * - `'in-use'`: this is a duplicated tab; the old id and the entries loaded from storage belong
   *   to the original tab, which is alive. Keep only the entries created here (never sent: nothing
   *   is sent before `welcome`) and move them to `namespace`.
   *
   * The writes it implies are queued on the storage writer (and retried until they succeed); the
   * renumbered entries are sent once written.
   */
  rebind(reason: 'unknown' | 'in-use', namespace: string, epoch: number): void {
    const oldNamespace = this.#namespace
    this.#namespace = namespace
    this.#defaultEpoch = epoch
    for (const queue of this.#queues.values()) {
      const keep = reason === 'unknown' ? queue.entries : queue.entries.filter((e) => e.local)
      if (reason === 'in-use') {
        void this.#options.writer.write(
          keep.map((e) => ({ key: `${oldNamespace}ob/${e.id}`, delete: true })),
        )
      }
      // A fresh producer id has never fenced anyone.
      if (queue.state.kind === 'fenced') {
        const fresh = this.#newQueue(queue.stream, queue.producer)
        fresh.entries = queue.entries
        this.#queues.set(queue.stream, fresh)
        this.#renumber(fresh, Math.max(epoch, queue.producer.epoch + 1), 0, keep)
      } else this.#renumber(queue, Math.max(epoch, queue.producer.epoch + 1), 0, keep)
    }
  }

  /** Resolves when no publish is pending. */
  flushed(): Promise<void> {
    if (this.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.add(resolve))
  }

  /** Rejects every waiting promise; entries stay in storage for the next instance. */
  close(): void {
    this.#open = false
    this.#closed = true
    this.#markLoaded()
    for (const queue of this.#queues.values()) queue.transition({ kind: 'offline' })
    const error = closedError()
    for (const waiter of this.#waiters.values()) waiter.reject(error)
    this.#waiters.clear()
  }

  #queue(stream: string, producer?: ProducerState): OutboxQueue {
    let queue = this.#queues.get(stream)
    if (queue === undefined) {
      queue = this.#newQueue(stream, producer ?? { epoch: this.#defaultEpoch, nextSeq: 0 })
      this.#queues.set(stream, queue)
    }
    return queue
  }

  #newQueue(stream: string, producer: ProducerState): OutboxQueue {
    const { clock, backoff, random } = this.#options
    return new OutboxQueue(
      stream,
      producer,
      this.#open,
      clock,
      (attempt) => Math.max(250, backoffDelay(attempt, backoff, random)),
      (queue) => this.#pump(queue),
    )
  }

  #pump(queue: OutboxQueue): void {
    const state = queue.state
    if (state.kind !== 'sending') return
    while (state.sent < queue.entries.length && state.sent < this.#options.maxInFlight) {
      const entry = queue.entries[state.sent]
      // Order matters: never send past an entry whose seq is not durable yet.
      if (entry === undefined || !entry.persisted) return
      const sent = this.#options.send({
        t: 'pub',
        stream: entry.stream,
        epoch: entry.epoch,
        seq: entry.seq,
        data: entry.data,
      })
      if (!sent) return
      state.sent += 1
    }
  }

  /** Writes the queue's producer state and `entries`; they may be sent once that succeeded. */
  #persist(queue: OutboxQueue, entries: readonly Entry[]): void {
    const writes: StorageWrite[] = [
      { key: `${this.#namespace}pr/${queue.stream}`, value: queue.producer },
      ...entries.map((entry) => ({ key: this.#entryKey(entry), value: toStored(entry) })),
    ]
    void this.#options.writer.write(writes).then(() => {
      for (const entry of entries) entry.persisted = true
      if (this.#queues.get(queue.stream) === queue) this.#pump(queue)
    })
  }

  /**
   * Fails one entry for good. With `renumber`, later entries shift down one seq: none of them can be
   * committed (the server refuses seqs past the missing one), and the hole must not stay.
   */
  #fail(queue: OutboxQueue, entry: Entry, error: Error, renumber = true): void {
    const index = queue.entries.indexOf(entry)
    if (index < 0) return
    const later = queue.entries.slice(index + 1)
    this.#remove(queue, index)
    if (renumber) this.#renumber(queue, queue.producer.epoch, entry.seq, later)
    this.#settle(entry, { kind: 'failed', error })
  }

  /** Removes an entry from its queue and from storage. */
  #remove(queue: OutboxQueue, index: number): Entry {
    const entry = queue.remove(index)!
    // Retried until it succeeds: a leftover entry would make the next instance's numbering
    // inconsistent (see `load`).
    void this.#options.writer.write([{ key: this.#entryKey(entry), delete: true }])
    return entry
  }

  /** Gives `entries` (in order) seqs from `fromSeq` in `epoch`; the rest of the queue is unchanged. */
  #renumber(queue: OutboxQueue, epoch: number, fromSeq: number, entries: readonly Entry[]): void {
    const renumbered = new Map<Entry, Entry>()
    entries.forEach((entry, i) =>
      renumbered.set(entry, { ...entry, epoch, seq: fromSeq + i, persisted: false }),
    )
    const before = queue.entries.filter((e) => !renumbered.has(e) && e.seq < fromSeq)
    queue.entries = [...before, ...renumbered.values()]
    queue.producer = { epoch, nextSeq: fromSeq + entries.length }
    queue.unsend()
    this.#persist(queue, [...renumbered.values()])
  }

  #settle(entry: Entry, outcome: PublishOutcome): void {
    const waiter = this.#waiters.get(entry.id)
    this.#waiters.delete(entry.id)
    if (waiter !== undefined) {
      if (outcome.kind === 'committed') waiter.resolve(outcome.result)
      else waiter.reject(outcome.error)
    }
    this.#options.onSettled({ stream: entry.stream, seq: entry.seq }, outcome)
    if (this.size === 0) {
      for (const resolve of this.#idleWaiters) resolve()
      this.#idleWaiters.clear()
    }
  }

  #entryKey(entry: StoredEntry): string {
    return `${this.#namespace}ob/${entry.id}`
  }
}

function closedError(): ClientError {
  return new ClientError(
    ClientErrorCode.CLIENT_CLOSED,
    'client closed; the publish stays in the outbox for the next client on this storage',
  )
}

function toStored(entry: Entry): StoredEntry {
  const { local: _local, persisted: _persisted, ...stored } = entry
  return stored
}
