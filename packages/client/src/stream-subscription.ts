import {
  type CaughtUpFrame,
  type ClientFrame,
  type ErrorFrame,
  ErrorCode,
  type Message,
  type MsgFrame,
  type Position,
  type ResetFrame,
  type ResetReason,
  SeqlineError,
  type StartFrom,
} from '@seqline/protocol'
import type { AckBatcher } from './ack-batcher.js'
import { type BackoffOptions, backoffDelay } from './backoff.js'
import { CallbackQueue } from './callback-queue.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock } from './clock.js'
import { DeliveryTracker, type TrackerAction } from './delivery-tracker.js'
import type { PositionStore } from './position-store.js'
import { RetryTimer } from './retry-timer.js'

//
//   subscribe()
//        │
//        ▼
//   ┌─────────┐ position read ┌─────────────┐ caughtUp, or a reset  ┌───────────┐
//   │ loading ├──────────────▶│ subscribing ├──without snapshot────▶│ following │◀─────┐
//   └────┬────┘               └──┬───────┬──┘                       └─────┬─────┘      │
//        │ storage failed        │       │ reset, with snapshot()         │ reset,     │ snapshot
//        │        refused        │       ▼                                │ with       │ applied
//        │   (FORBIDDEN, …)      │  ┌───────────┐◀────────────────────────┘ snapshot() │
//        ▼                       │  │ resyncing ├────────────────────────────────────────┘
//   ┌────────┐◀──────────────────┘  └───────────┘  (its snapshot() is retried with backoff)
//   │ failed │   not re-sent on reconnect: the server refused it for a reason a retry won't change
//   └────────┘
//
//   every state ──unsubscribe() / client closed──▶ ended   (terminal: nothing runs or is scheduled)
//
// `subscribing` waits for the server's first answer; only then can a refusal fail the subscription
// (a later error about the stream, e.g. a refused signal, is reported without ending it).
// `following` and `resyncing` send `sub` again from the tracker's position after every reconnect.

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

/** Options of `StreamHandle.subscribe`. `T`: message data; `S`: the snapshot's shape. */
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

/** What a subscription needs from its stream handle and client. */
export interface SubscriptionContext {
  readonly stream: string
  send(frame: ClientFrame): boolean
  isOpen(): boolean
  readonly positions: PositionStore
  readonly acks: AckBatcher
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  /** A completed (re)subscribe, for the handle's `subscribed` event. */
  subscribed(event: SubscribedEvent): void
  /** A problem on the stream, for the handle's `error` event. */
  error(error: Error): void
}

/** State of a {@link StreamSubscription} (diagram above). */
export type SubscriptionState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'subscribing'; readonly tracker: DeliveryTracker }
  | { readonly kind: 'following'; readonly tracker: DeliveryTracker }
  | {
      readonly kind: 'resyncing'
      readonly tracker: DeliveryTracker
      readonly reset: ResetFrame
      readonly retry: RetryTimer
    }
  | { readonly kind: 'failed'; readonly error: Error }
  | { readonly kind: 'ended' }

type Options = SubscribeOptions<unknown, SnapshotResult>

const SUBSCRIBE_REFUSALS: ReadonlySet<string> = new Set([
  ErrorCode.FORBIDDEN,
  ErrorCode.STREAM_NOT_FOUND,
  ErrorCode.TOO_MANY_STREAMS,
  ErrorCode.INVALID_STREAM_NAME,
])

/**
 * One subscription of a stream: its state machine, its delivery tracker and the queue that hands
 * messages to the application one at a time.
 */
export class StreamSubscription {
  /** Resolves at the first completed subscribe; rejects when refused or ended before. */
  readonly ready: Promise<SubscribedEvent>
  readonly #ctx: SubscriptionContext
  readonly #options: Options
  readonly #callbacks = new CallbackQueue()
  readonly #end: () => void
  #state: SubscriptionState = { kind: 'loading' }
  #resolve!: (event: SubscribedEvent) => void
  #reject!: (error: Error) => void

  constructor(ctx: SubscriptionContext, options: Options, end: () => void) {
    this.#ctx = ctx
    this.#options = options
    this.#end = end
    this.ready = new Promise<SubscribedEvent>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // `ready` is optional to await; a refusal is also emitted as an `error` event.
    this.ready.catch(() => {})
    ctx.positions.load(ctx.stream).then(
      (position) => {
        if (this.#state.kind !== 'loading') return
        this.#transition({ kind: 'subscribing', tracker: new DeliveryTracker(position) })
        if (ctx.isOpen()) this.opened()
      },
      (cause: unknown) => {
        if (this.#state.kind !== 'loading') return
        this.#fail(
          new ClientError(ClientErrorCode.STORAGE_FAILED, 'could not read the stream position', {
            cause,
          }),
        )
      },
    )
  }

  get state(): SubscriptionState {
    return this.#state
  }

  /** The connection opened: (re)subscribe from the tracker's position. */
  opened(): void {
    const state = this.#state
    if (!('tracker' in state)) return
    const from = state.tracker.subscribe(this.#options.from)
    const stream = this.#ctx.stream
    this.#ctx.send(from === undefined ? { t: 'sub', stream } : { t: 'sub', stream, from })
  }

  /** The connection was lost: no `sub` is pending any more. */
  disconnected(): void {
    const state = this.#state
    if ('tracker' in state) state.tracker.disconnected()
  }

  /** A delivery frame of this stream. */
  receive(frame: MsgFrame | CaughtUpFrame | ResetFrame): void {
    const state = this.#state
    if (!('tracker' in state)) return
    const { tracker } = state
    if (frame.t === 'msg') this.#apply(tracker.msg(frame))
    else if (frame.t === 'caughtUp') this.#apply(tracker.caughtUp(frame))
    else this.#apply(tracker.reset(frame, this.#options.snapshot !== undefined))
  }

  /** An error frame about this stream. */
  refused(frame: ErrorFrame): void {
    const error = new SeqlineError(frame.code, frame.message, { details: { stream: frame.stream } })
    if (this.#state.kind === 'subscribing' && SUBSCRIBE_REFUSALS.has(frame.code)) this.#fail(error)
    else this.#ctx.error(error)
  }

  /** Ends the subscription for good (unsubscribed, or the client closed). */
  end(): void {
    this.#transition({ kind: 'ended' })
  }

  #transition(to: SubscriptionState): void {
    const from = this.#state
    if (from.kind === 'ended') return
    this.#state = to
    if (from.kind === 'resyncing' && to.kind !== 'resyncing') from.retry.reset()
    if (to.kind === 'ended') {
      this.#callbacks.clear()
      this.#ctx.acks.drop(this.#ctx.stream)
      this.#reject(new ClientError(ClientErrorCode.CLIENT_CLOSED, 'unsubscribed'))
      this.#end()
    }
  }

  #fail(error: Error): void {
    this.#transition({ kind: 'failed', error })
    this.#reject(error)
    this.#ctx.error(error)
  }

  #apply(actions: readonly TrackerAction[], snapshot?: SnapshotResult): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'deliver': {
          // The envelope without the wire's fields.
          const { t: _t, enc: _enc, ...message } = action.msg
          this.#callbacks.push(async () => {
            await this.#call(() => this.#options.onMessage(message satisfies Message<unknown>))
            this.#processed({ epoch: message.epoch, offset: message.offset })
          })
          break
        }
        case 'resubscribe':
          this.#ctx.send({ t: 'sub', stream: this.#ctx.stream, from: action.from })
          break
        case 'subscribed': {
          const state = this.#state
          if (state.kind === 'subscribing' || state.kind === 'resyncing') {
            this.#transition({ kind: 'following', tracker: state.tracker })
          }
          const event: SubscribedEvent = {
            stream: this.#ctx.stream,
            recovered: action.recovered,
            wasRecovering: action.wasRecovering,
          }
          // Every message up to here is queued before this callback, so once it runs they are
          // processed: ack that position again. A position processed and stored just before a
          // reload may never have been acked (acks are batched), and the server keeps what is not.
          const caughtUpAt = 'tracker' in state ? state.tracker.position : undefined
          this.#callbacks.push(() => {
            if (caughtUpAt !== undefined && caughtUpAt.offset > 0) {
              this.#ctx.acks.processed(this.#ctx.stream, caughtUpAt.offset)
            }
            this.#resolve(event)
            this.#options.onSubscribed?.(event)
            this.#ctx.subscribed(event)
          })
          break
        }
        case 'fetchSnapshot':
          this.#resync(action.reset)
          break
        case 'reset': {
          const event: ResetEvent<SnapshotResult> = {
            ...resetInfo(action.reset),
            snapshot,
            position: action.position,
          }
          this.#callbacks.push(async () => {
            await this.#call(() => this.#options.onReset?.(event))
            this.#processed(action.position)
          })
          break
        }
      }
    }
  }

  /** Fetches the app's snapshot, retried with backoff until it succeeds or the state changes. */
  #resync(reset: ResetFrame): void {
    const state = this.#state
    const fetchSnapshot = this.#options.snapshot
    if (!('tracker' in state) || fetchSnapshot === undefined) return
    const run = (): void => {
      Promise.resolve()
        .then(() => fetchSnapshot(resetInfo(reset)))
        .then(
          (result) => {
            if (this.#state !== resyncing) return
            this.#apply(resyncing.tracker.snapshot(reset, result.position), result)
          },
          (cause: unknown) => {
            if (this.#state !== resyncing) return
            this.#ctx.error(
              new ClientError(
                ClientErrorCode.SNAPSHOT_FAILED,
                `snapshot of ${this.#ctx.stream} failed`,
                { cause },
              ),
            )
            resyncing.retry.schedule()
          },
        )
    }
    const resyncing: Extract<SubscriptionState, { kind: 'resyncing' }> = {
      kind: 'resyncing',
      tracker: state.tracker,
      reset,
      retry: new RetryTimer(this.#ctx.clock, run, (attempt) =>
        backoffDelay(attempt, this.#ctx.backoff, this.#ctx.random),
      ),
    }
    this.#transition(resyncing)
    run()
  }

  #processed(position: Position): void {
    this.#ctx.positions.save(this.#ctx.stream, position)
    this.#ctx.acks.processed(this.#ctx.stream, position.offset)
  }

  async #call(callback: () => unknown): Promise<void> {
    try {
      await callback()
    } catch (cause) {
      // The message still counts as processed: a poison message must not wedge the stream.
      this.#ctx.error(
        new ClientError(
          ClientErrorCode.CALLBACK_FAILED,
          `a callback of ${this.#ctx.stream} threw`,
          { cause },
        ),
      )
    }
  }
}

function resetInfo(reset: ResetFrame): ResetInfo {
  const { t: _t, ...info } = reset
  return info
}
