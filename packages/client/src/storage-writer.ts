import { type BackoffOptions, backoffDelay } from './backoff.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock } from './clock.js'
import { RetryTimer } from './retry-timer.js'
import type { Storage } from './storage/storage.js'

//
//   ┌──────┐  write()   ┌─────────┐  every write of the round succeeded
//   │ idle ├───────────▶│ writing ├──────────────────────────────────────▶ idle (or writing, if
//   └──────┘            └────┬────┘                                        more was queued meanwhile)
//                            │ a write failed: `error` event (STORAGE_FAILED)
//                            ▼
//                      ┌──────────┐  retry timer (backoff)
//                      │ retrying ├───────────────────────▶ writing
//                      └──────────┘
//
//   any ──close()──▶ closing (one last round, no retry) ──▶ closed
//
// Every durable write of the client goes through here: outbox entries and producer states,
// positions, the identity. Writes are latest-wins per key and go out in rounds, one round at a time,
// so a newer value of a key can never be overtaken by an older one. A failed write is never lost:
// it stays queued and is retried with backoff, and whoever waits for it simply waits longer.

type Operation = { readonly kind: 'set'; readonly value: unknown } | { readonly kind: 'delete' }

/** State of a {@link StorageWriter} (diagram above). */
export type WriterState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'writing' }
  | { readonly kind: 'retrying' }
  | { readonly kind: 'closing' }
  | { readonly kind: 'closed' }

// The states without data, allocated once: a busy stream writes a position per message.
const IDLE: WriterState = { kind: 'idle' }
const WRITING: WriterState = { kind: 'writing' }
const RETRYING: WriterState = { kind: 'retrying' }

/** One write: store `value` under `key`, or delete `key`. */
export type StorageWrite =
  | { readonly key: string; readonly value: unknown }
  | { readonly key: string; readonly delete: true }

/** What a {@link StorageWriter} needs. */
export interface StorageWriterOptions {
  readonly storage: Storage
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  /** A round failed (it is retried): reported as the client's `error` event. */
  onError(error: ClientError): void
}

/** The client's write-behind storage queue (diagram above). */
export class StorageWriter {
  readonly #options: StorageWriterOptions
  readonly #retry: RetryTimer
  /** Latest operation queued per key, not yet written. */
  readonly #pending = new Map<string, Operation>()
  /**
   * Who waits for the next round to start. A round writes everything pending, so one that succeeds
   * entirely covers every write queued before it started; a failed one hands its waiters on.
   */
  #waiters: (() => void)[] = []
  /** Called when the round in flight has ended (`close()` waits for it). */
  #roundEnded: (() => void)[] = []
  #state: WriterState = IDLE

  constructor(options: StorageWriterOptions) {
    this.#options = options
    this.#retry = new RetryTimer(
      options.clock,
      () => {
        if (this.#state === RETRYING) this.#round()
      },
      (attempt) => backoffDelay(attempt, options.backoff, options.random),
    )
  }

  get state(): WriterState {
    return this.#state
  }

  /** Queues `writes` without waiting for them (positions: the next one supersedes them anyway). */
  put(writes: readonly StorageWrite[]): void {
    for (const write of writes) {
      this.#pending.set(
        write.key,
        'delete' in write ? { kind: 'delete' } : { kind: 'set', value: write.value },
      )
    }
    if (this.#state.kind === 'idle') this.#round()
  }

  /**
   * Queues `writes`; resolves once they — or newer writes of the same keys — are in storage.
   * Never rejects: a failure is reported through `onError` and retried. After `close()` the promise
   * may never settle.
   */
  write(writes: readonly StorageWrite[]): Promise<void> {
    const kind = this.#state.kind
    if (kind === 'closing' || kind === 'closed') return new Promise(() => {})
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve))
    this.put(writes)
    return done
  }

  /**
   * Stops retrying. What is still queued is tried once more, now; the promise resolves when that
   * last round ended, whether it succeeded or not.
   */
  async close(): Promise<void> {
    const state = this.#state
    if (state.kind === 'closing' || state.kind === 'closed') return
    this.#retry.reset()
    this.#state = { kind: 'closing' }
    if (state.kind === 'writing')
      await new Promise<void>((resolve) => this.#roundEnded.push(resolve))
    await new Promise<unknown>((resolve) => this.#write([...this.#pending], resolve))
    this.#state = { kind: 'closed' }
  }

  #round(): void {
    const waiters = this.#waiters
    this.#waiters = []
    const batch = [...this.#pending]
    if (batch.length === 0) {
      this.#state = IDLE
      for (const resolve of waiters) resolve()
      return
    }
    this.#state = WRITING
    this.#write(batch, (failure) => {
      for (const ended of this.#roundEnded.splice(0)) ended()
      if (this.#state !== WRITING) return
      if (failure === undefined) {
        this.#retry.reset()
        for (const resolve of waiters) resolve()
        if (this.#pending.size > 0 || this.#waiters.length > 0) this.#round()
        else this.#state = IDLE
        return
      }
      this.#waiters = [...waiters, ...this.#waiters]
      this.#state = RETRYING
      this.#options.onError(
        new ClientError(ClientErrorCode.STORAGE_FAILED, 'storage write failed; retrying', {
          cause: failure,
        }),
      )
      this.#retry.schedule()
    })
  }

  /**
   * Writes `batch` in parallel, then calls `ended` with the first failure, if any. Written keys
   * leave the queue (unless a newer operation replaced them); failed ones stay.
   */
  #write(
    batch: readonly (readonly [string, Operation])[],
    ended: (failure: unknown) => void,
  ): void {
    const storage = this.#options.storage
    let left = batch.length
    let failure: unknown
    if (left === 0) ended(undefined)
    for (const [key, operation] of batch) {
      let written: Promise<void>
      try {
        written = operation.kind === 'set' ? storage.set(key, operation.value) : storage.delete(key)
      } catch (error) {
        // A Storage that throws instead of rejecting.
        written = Promise.reject(error)
      }
      written.then(
        () => {
          if (this.#pending.get(key) === operation) this.#pending.delete(key)
          if (--left === 0) ended(failure)
        },
        (error: unknown) => {
          failure ??= error ?? new Error('storage write failed')
          if (--left === 0) ended(failure)
        },
      )
    }
  }
}
