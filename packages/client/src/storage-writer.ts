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

interface Pending {
  readonly version: number
  readonly operation: Operation
}

interface Waiter {
  readonly needs: readonly (readonly [key: string, version: number])[]
  readonly resolve: () => void
}

/** State of a {@link StorageWriter} (diagram above). */
export type WriterState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'writing' }
  | { readonly kind: 'retrying' }
  | { readonly kind: 'closing' }
  | { readonly kind: 'closed' }

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
  /** Latest queued operation per key, not yet written. */
  readonly #pending = new Map<string, Pending>()
  /** Latest version written per key (only for keys someone may still wait for). */
  readonly #written = new Map<string, number>()
  #waiters: Waiter[] = []
  /** Called when the round in flight ends (`close()` waits for it). */
  #roundEnded: (() => void)[] = []
  #version = 0
  #state: WriterState = { kind: 'idle' }

  constructor(options: StorageWriterOptions) {
    this.#options = options
    this.#retry = new RetryTimer(
      options.clock,
      () => {
        if (this.#state.kind === 'retrying') this.#round()
      },
      (attempt) => backoffDelay(attempt, options.backoff, options.random),
    )
  }

  get state(): WriterState {
    return this.#state
  }

  /**
   * Queues `writes`; resolves once each of them — or a newer write of the same key — is in storage.
   * Never rejects: a failure is reported through `onError` and retried. After `close()` the promise
   * may never settle.
   */
  write(writes: readonly StorageWrite[]): Promise<void> {
    if (this.#state.kind === 'closed') return new Promise(() => {})
    const needs = writes.map((write) => {
      const version = ++this.#version
      const operation: Operation =
        'delete' in write ? { kind: 'delete' } : { kind: 'set', value: write.value }
      this.#pending.set(write.key, { version, operation })
      return [write.key, version] as const
    })
    const done = new Promise<void>((resolve) => this.#waiters.push({ needs, resolve }))
    if (this.#state.kind === 'idle') this.#round()
    return done
  }

  /** Resolves when nothing queued so far is still unwritten. */
  flushed(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve()
    const needs = [...this.#pending].map(([key, pending]) => [key, pending.version] as const)
    return new Promise((resolve) => this.#waiters.push({ needs, resolve }))
  }

  /**
   * Stops retrying. What is still queued is tried once more, now; the promise resolves when that
   * last round ended, whether it succeeded or not.
   */
  async close(): Promise<void> {
    const kind = this.#state.kind
    if (kind === 'closing' || kind === 'closed') return
    this.#retry.reset()
    this.#transition({ kind: 'closing' })
    if (kind === 'writing') await new Promise<void>((resolve) => this.#roundEnded.push(resolve))
    if (this.#pending.size > 0) await this.#write([...this.#pending])
    this.#transition({ kind: 'closed' })
  }

  #round(): void {
    const batch = [...this.#pending]
    if (batch.length === 0) {
      this.#transition({ kind: 'idle' })
      return
    }
    this.#transition({ kind: 'writing' })
    void this.#write(batch).then((failed) => {
      for (const resolve of this.#roundEnded.splice(0)) resolve()
      if (this.#state.kind !== 'writing') return
      if (failed === undefined) {
        this.#retry.reset()
        this.#round()
        return
      }
      this.#transition({ kind: 'retrying' })
      this.#options.onError(
        new ClientError(ClientErrorCode.STORAGE_FAILED, 'storage write failed; retrying', {
          cause: failed,
        }),
      )
      this.#retry.schedule()
    })
  }

  /** Writes `batch` in parallel; returns the first failure, if any. Failed keys stay queued. */
  async #write(batch: readonly (readonly [string, Pending])[]): Promise<unknown> {
    const storage = this.#options.storage
    const results = await Promise.allSettled(
      batch.map(([key, { operation }]) =>
        operation.kind === 'set' ? storage.set(key, operation.value) : storage.delete(key),
      ),
    )
    let failure: unknown
    results.forEach((result, i) => {
      const [key, pending] = batch[i]!
      if (result.status === 'rejected') {
        failure ??= result.reason ?? new Error('storage write failed')
        return
      }
      this.#written.set(key, Math.max(this.#written.get(key) ?? 0, pending.version))
      if (this.#pending.get(key) === pending) this.#pending.delete(key)
    })
    this.#wake()
    return failure
  }

  /** Resolves every waiter whose writes are all in storage; forgets versions nobody waits for. */
  #wake(): void {
    const waiting: Waiter[] = []
    for (const waiter of this.#waiters) {
      const done = waiter.needs.every(([key, version]) => (this.#written.get(key) ?? 0) >= version)
      if (done) waiter.resolve()
      else waiting.push(waiter)
    }
    this.#waiters = waiting
    if (waiting.length === 0) this.#written.clear()
  }

  #transition(to: WriterState): void {
    this.#state = to
  }
}
