import {
  type ClientFrame,
  type ErrorFrame,
  ErrorCode,
  type Message,
  type Position,
  type PresenceEntry,
  type ResetFrame,
  type ResetReason,
  SeqlineError,
  type ServerFrame,
  type StartFrom,
} from '@seqline/protocol'
import type { AckBatcher } from './ack-batcher.js'
import { type BackoffOptions, backoffDelay } from './backoff.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock } from './clock.js'
import { DeliveryTracker, type TrackerAction } from './delivery-tracker.js'
import { type Disposer, Emitter } from './emitter.js'
import { messageIterator } from './message-iterator.js'
import type { Outbox, PublishResult } from './outbox.js'
import type { PositionStore } from './position-store.js'
import { RetryTimer } from './retry-timer.js'

/** What a snapshot must contain: the position it is current as of. Add any fields you need. */
export interface SnapshotResult {
  readonly position: Position
}

/** Why a snapshot is needed; passed to `snapshot()`. */
export interface ResetInfo {
  readonly stream: string
  readonly reason: ResetReason
  /** The stream's current epoch. */
  readonly epoch: string
  /** The server continues live from here (messages `head + 1` …). */
  readonly head: number
  /** Lowest offset still retained. */
  readonly tail: number
}

/** Passed to `onReset` before any message that follows the reset. */
export interface ResetEvent<S> extends ResetInfo {
  /** What `snapshot()` returned; `undefined` when the subscription has no `snapshot`. */
  readonly snapshot: S | undefined
  /** Where delivery continues from: the snapshot's position, else the head. */
  readonly position: Position
}

/** A subscription (re)started. */
export interface SubscribedEvent {
  readonly stream: string
  /** The client asked to resume from a position it had. */
  readonly wasRecovering: boolean
  /** The server resumed that position: nothing was missed. */
  readonly recovered: boolean
}

/** Options of {@link StreamHandle.subscribe}. `T`: message data; `S`: the snapshot's shape. */
export interface SubscribeOptions<T, S extends SnapshotResult = SnapshotResult> {
  /**
   * Where to start when this client has no stored position for the stream. Default: the server's
   * cursor for this client if it has one, else `'latest'`.
   */
  readonly from?: StartFrom
  /** Each message, exactly once, in offset order. It is acked after this returns (or resolves). */
  readonly onMessage: (message: Message<T>) => unknown
  /**
   * Fetches the app's state over HTTP when history cannot be replayed (`reset`). Live messages are
   * buffered meanwhile; only those past `position` are delivered afterwards. Retried with backoff.
   */
  readonly snapshot?: (reset: ResetInfo) => Promise<S>
  /** The stream was reset: replace your state with `event.snapshot` (if any). Never silent (G3). */
  readonly onReset?: (event: ResetEvent<S>) => unknown
  /** Each completed (re)subscribe, with its `recovered` / `wasRecovering` flags. */
  readonly onSubscribed?: (event: SubscribedEvent) => void
}

/** A live subscription. */
export interface Subscription {
  /** Resolves at the first completed subscribe; rejects if the server refuses it (e.g. FORBIDDEN). */
  readonly ready: Promise<SubscribedEvent>
  /** Stops delivery and tells the server. */
  unsubscribe(): void
}

/** A signal from another connection. */
export interface SignalEvent<D = unknown> {
  readonly stream: string
  readonly from: string
  readonly data: D
}

/** Events of a {@link StreamHandle}. */
export interface StreamEvents {
  /** Full presence list after every change (snapshot on subscribe, then each join/leave). */
  presence: readonly PresenceEntry[]
  /** An ephemeral signal from someone else on this stream. */
  signal: SignalEvent
  /** Each completed (re)subscribe. */
  subscribed: SubscribedEvent
  /** A problem on this stream: a refused subscribe, a failing snapshot, a throwing callback. */
  error: Error
}

/** What a stream handle needs from its client. */
export interface StreamContext {
  send(frame: ClientFrame): boolean
  readonly positions: PositionStore
  readonly acks: AckBatcher
  readonly outbox: Outbox
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  readonly isOpen: () => boolean
}

interface Active {
  readonly options: SubscribeOptions<unknown, SnapshotResult>
  tracker: DeliveryTracker | undefined
  readonly tasks: (() => unknown)[]
  draining: boolean
  snapshot: SnapshotResult | undefined
  snapshotRetry: RetryTimer | undefined
  settled: boolean
  failed: boolean
  readonly resolve: (event: SubscribedEvent) => void
  readonly reject: (error: Error) => void
  readonly end: () => void
}

const SUBSCRIBE_REFUSALS: ReadonlySet<string> = new Set([
  ErrorCode.FORBIDDEN,
  ErrorCode.STREAM_NOT_FOUND,
  ErrorCode.TOO_MANY_STREAMS,
  ErrorCode.INVALID_STREAM_NAME,
])

/**
 * One stream, as seen by the app: subscribe (callbacks or `for await`), publish, signal, presence.
 * Get it with `client.stream<T>(name)`; the same name gives the same handle.
 */
export class StreamHandle<T = unknown> {
  readonly name: string
  readonly #ctx: StreamContext
  readonly #events = new Emitter<StreamEvents>()
  readonly #presence = new Map<string, number>()
  #active: Active | undefined

  constructor(name: string, ctx: StreamContext) {
    this.name = name
    this.#ctx = ctx
  }

  /**
   * Follows the stream: every message exactly once, in order, across reconnects and reloads.
   *
   * @example
   * room.subscribe({
   *   onMessage: (m) => render(m.data),
   *   snapshot: async () => (await fetch('/api/room/state')).json(), // { position, items }
   *   onReset: (e) => replaceAll(e.snapshot?.items ?? []),
   * })
   */
  subscribe<S extends SnapshotResult = SnapshotResult>(
    options: SubscribeOptions<T, S>,
  ): Subscription {
    return this.#subscribe(
      options as unknown as SubscribeOptions<unknown, SnapshotResult>,
      () => {},
    )
  }

  /**
   * The same as `subscribe`, as an async iterator. A message counts as processed when the loop body
   * that received it finishes; leaving the loop unsubscribes.
   *
   * @example
   * for await (const message of room.messages({ from: 'earliest' })) console.log(message.data)
   */
  messages<S extends SnapshotResult = SnapshotResult>(
    options: Omit<SubscribeOptions<T, S>, 'onMessage'> = {},
  ): AsyncIterableIterator<Message<T>> {
    const unsubscribe = { current: (): void => {} }
    const channel = messageIterator<T>(() => unsubscribe.current())
    const subscription = this.#subscribe(
      { ...options, onMessage: channel.onMessage } as unknown as SubscribeOptions<
        unknown,
        SnapshotResult
      >,
      channel.end,
    )
    unsubscribe.current = subscription.unsubscribe
    return channel.iterator
  }

  /** Publishes through the outbox; resolves with the committed offset. Queued while offline. */
  publish(data: T): Promise<PublishResult> {
    return this.#ctx.outbox.publish(this.name, data)
  }

  /** Sends an ephemeral signal (never stored). Returns false when not connected: it is dropped. */
  signal(data: unknown): boolean {
    return this.#ctx.send({ t: 'signal', stream: this.name, data })
  }

  /** Current presence list (empty until subscribed). */
  presence(): PresenceEntry[] {
    return [...this.#presence].map(([user, clients]) => ({ user, clients }))
  }

  /** Last processed position, if any. */
  position(): Promise<Position | undefined> {
    return this.#ctx.positions.load(this.name)
  }

  /** Listens to a stream event; returns the disposer. */
  on<K extends keyof StreamEvents>(event: K, listener: (arg: StreamEvents[K]) => void): Disposer {
    return this.#events.on(event, listener)
  }

  /** @internal The connection opened: (re)subscribe from the position. */
  opened(): void {
    const active = this.#active
    if (active?.tracker === undefined || active.failed) return
    const from = active.tracker.subscribe(active.options.from)
    this.#ctx.send(
      from === undefined ? { t: 'sub', stream: this.name } : { t: 'sub', stream: this.name, from },
    )
  }

  /** @internal The connection was lost. */
  disconnected(): void {
    this.#active?.tracker?.disconnected()
    this.#presence.clear()
  }

  /** @internal A frame for this stream. */
  receive(frame: ServerFrame): void {
    const active = this.#active
    const tracker = active?.tracker
    switch (frame.t) {
      case 'msg':
        if (tracker !== undefined) this.#apply(active!, tracker.msg(frame))
        return
      case 'caughtUp':
        if (tracker !== undefined) this.#apply(active!, tracker.caughtUp(frame))
        return
      case 'reset':
        if (tracker !== undefined) {
          this.#apply(active!, tracker.reset(frame, active!.options.snapshot !== undefined))
        }
        return
      case 'presence':
        this.#presence.clear()
        for (const entry of frame.users) this.#presence.set(entry.user, entry.clients)
        this.#events.emit('presence', this.presence())
        return
      case 'presenceDiff':
        for (const change of frame.changes) {
          if (change.clients > 0) this.#presence.set(change.user, change.clients)
          else this.#presence.delete(change.user)
        }
        this.#events.emit('presence', this.presence())
        return
      case 'signal':
        this.#events.emit('signal', { stream: frame.stream, from: frame.from, data: frame.data })
        return
      case 'error':
        this.#refused(frame)
        return
      default:
    }
  }

  /** @internal The client is closing: stop without telling the server. */
  close(): void {
    this.#stop()
    this.#events.clear()
  }

  #subscribe(options: SubscribeOptions<unknown, SnapshotResult>, end: () => void): Subscription {
    if (this.#active !== undefined) {
      throw new ClientError(
        ClientErrorCode.ALREADY_SUBSCRIBED,
        `stream ${this.name} already has a subscription; unsubscribe it first`,
      )
    }
    let resolve!: (event: SubscribedEvent) => void
    let reject!: (error: Error) => void
    const ready = new Promise<SubscribedEvent>((res, rej) => {
      resolve = res
      reject = rej
    })
    // `ready` is optional to await; a refusal is also emitted as an `error` event.
    ready.catch(() => {})
    const active: Active = {
      options,
      tracker: undefined,
      tasks: [],
      draining: false,
      snapshot: undefined,
      snapshotRetry: undefined,
      settled: false,
      failed: false,
      resolve,
      reject,
      end,
    }
    this.#active = active
    this.#ctx.positions.load(this.name).then(
      (position) => {
        if (this.#active !== active) return
        active.tracker = new DeliveryTracker(position)
        if (this.#ctx.isOpen()) this.opened()
      },
      (cause: unknown) => this.#fail(active, storageError(cause)),
    )
    return {
      ready,
      unsubscribe: () => {
        if (this.#active !== active) return
        this.#ctx.acks.flush()
        this.#ctx.send({ t: 'unsub', stream: this.name })
        this.#stop()
      },
    }
  }

  #stop(): void {
    const active = this.#active
    if (active === undefined) return
    this.#active = undefined
    active.snapshotRetry?.reset()
    active.tasks.length = 0
    this.#ctx.acks.drop(this.name)
    active.reject(new ClientError(ClientErrorCode.CLIENT_CLOSED, 'unsubscribed'))
    active.end()
  }

  #apply(active: Active, actions: readonly TrackerAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'deliver': {
          const { msg } = action
          const message: Message<unknown> = {
            stream: msg.stream,
            offset: msg.offset,
            epoch: msg.epoch,
            producer: msg.producer,
            seq: msg.seq,
            from: msg.from,
            ts: msg.ts,
            data: msg.data,
          }
          this.#enqueue(active, async () => {
            await this.#call(() => active.options.onMessage(message))
            this.#processed({ epoch: msg.epoch, offset: msg.offset })
          })
          break
        }
        case 'resubscribe':
          this.#ctx.send({ t: 'sub', stream: this.name, from: action.from })
          break
        case 'subscribed': {
          const event: SubscribedEvent = {
            stream: this.name,
            recovered: action.recovered,
            wasRecovering: action.wasRecovering,
          }
          this.#enqueue(active, () => {
            active.settled = true
            active.resolve(event)
            active.options.onSubscribed?.(event)
            this.#events.emit('subscribed', event)
          })
          break
        }
        case 'fetchSnapshot':
          this.#fetchSnapshot(active, action.reset)
          break
        case 'reset': {
          const snapshot = active.snapshot
          active.snapshot = undefined
          const event: ResetEvent<SnapshotResult> = {
            ...resetInfo(action.reset),
            snapshot,
            position: action.position,
          }
          this.#enqueue(active, async () => {
            await this.#call(() => active.options.onReset?.(event))
            this.#processed(action.position)
          })
          break
        }
      }
    }
  }

  #fetchSnapshot(active: Active, reset: ResetFrame): void {
    const fetchSnapshot = active.options.snapshot
    if (fetchSnapshot === undefined) return
    const run = (): void => {
      Promise.resolve()
        .then(() => fetchSnapshot(resetInfo(reset)))
        .then(
          (result) => {
            if (this.#active !== active || active.tracker === undefined) return
            active.snapshotRetry?.reset()
            active.snapshot = result
            this.#apply(active, active.tracker.snapshot(reset, result.position))
          },
          (cause: unknown) => {
            if (this.#active !== active) return
            this.#events.emit(
              'error',
              new ClientError(ClientErrorCode.SNAPSHOT_FAILED, `snapshot of ${this.name} failed`, {
                cause,
              }),
            )
            active.snapshotRetry?.schedule()
          },
        )
    }
    active.snapshotRetry ??= new RetryTimer(this.#ctx.clock, run, (attempt) =>
      backoffDelay(attempt, this.#ctx.backoff, this.#ctx.random),
    )
    run()
  }

  #refused(frame: ErrorFrame): void {
    const error = new SeqlineError(frame.code, frame.message, { details: { stream: frame.stream } })
    const active = this.#active
    if (active !== undefined && !active.settled && SUBSCRIBE_REFUSALS.has(frame.code)) {
      this.#fail(active, error)
      return
    }
    this.#events.emit('error', error)
  }

  #fail(active: Active, error: Error): void {
    // Not re-sent on reconnect: the server refused it for a reason that a retry will not change.
    active.failed = true
    active.reject(error)
    this.#events.emit('error', error)
  }

  #processed(position: Position): void {
    this.#ctx.positions.save(this.name, position)
    this.#ctx.acks.processed(this.name, position.offset)
  }

  async #call(callback: () => unknown): Promise<void> {
    try {
      await callback()
    } catch (cause) {
      // The message still counts as processed: a poison message must not wedge the stream.
      this.#events.emit(
        'error',
        new ClientError(ClientErrorCode.CALLBACK_FAILED, `a callback of ${this.name} threw`, {
          cause,
        }),
      )
    }
  }

  #enqueue(active: Active, task: () => unknown): void {
    active.tasks.push(task)
    if (!active.draining) void this.#drain(active)
  }

  /** Runs callbacks one at a time, so an async `onMessage` finishes before the next begins. */
  async #drain(active: Active): Promise<void> {
    active.draining = true
    for (let task = active.tasks.shift(); task !== undefined; task = active.tasks.shift()) {
      await task()
      if (this.#active !== active) break
    }
    active.draining = false
  }
}

function resetInfo(reset: ResetFrame): ResetInfo {
  return {
    stream: reset.stream,
    reason: reset.reason,
    epoch: reset.epoch,
    head: reset.head,
    tail: reset.tail,
  }
}

function storageError(cause: unknown): ClientError {
  return new ClientError(ClientErrorCode.STORAGE_FAILED, 'could not read the stream position', {
    cause,
  })
}
