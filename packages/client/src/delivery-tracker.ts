import type { CaughtUpFrame, MsgFrame, Position, ResetFrame, StartFrom } from '@seqline/protocol'
import { sameEpoch } from './offset-token.js'

/** What the owner of a {@link DeliveryTracker} must do next, in order. */
export type TrackerAction =
  /** Hand this message to the application: it is the next one, exactly once. */
  | { readonly kind: 'deliver'; readonly msg: MsgFrame }
  /** A gap (or a foreign epoch) was seen: send `sub` from this position to catch up. */
  | { readonly kind: 'resubscribe'; readonly from: Position }
  /** A subscription completed (`caughtUp`, or a reset that was resolved). */
  | { readonly kind: 'subscribed'; readonly recovered: boolean; readonly wasRecovering: boolean }
  /** The position cannot be resumed and the app has a `snapshot()`: fetch it; messages are buffered. */
  | { readonly kind: 'fetchSnapshot'; readonly reset: ResetFrame }
  /**
   * The position cannot be resumed. The app is told before any later message; with a snapshot the
   * stream continues from the snapshot's position, without one from the server's head.
   */
  | { readonly kind: 'reset'; readonly reset: ResetFrame; readonly position: Position }

/** Default cap on messages buffered while a snapshot is fetched; beyond it they are re-read later. */
export const DEFAULT_SNAPSHOT_BUFFER = 10_000

/**
 * Per-stream delivery logic, pure and synchronous: dedup by offset, gap detection, and the snapshot
 * buffer — the "tricky part" of the seed discussion, done once.
 *
 * The position is the last message *accepted* for delivery. Within an epoch, a message at
 * `position.offset + 1` is delivered, one at or below it is a duplicate (the wire is at-least-once),
 * one beyond it is a gap and triggers one catch-up `sub` from the position. While a snapshot is
 * fetched every message is buffered; when it arrives the buffer is replayed through the same rules
 * from the snapshot's position, so messages the snapshot already contains are dropped, later ones are
 * delivered, and a hole between the snapshot and the buffer is caught up like any other gap.
 */
export class DeliveryTracker {
  #position: Position | undefined
  #mode: 'live' | 'snapshot' = 'live'
  #buffer: MsgFrame[] = []
  #overflowed = false
  /** `sub` frames sent whose `caughtUp` / `reset` has not arrived yet. */
  #pendingSubs = 0
  /** A catch-up `sub` is in flight: further gaps are expected and do not trigger another. */
  #catchingUp = false
  #wasRecovering = false
  readonly #bufferLimit: number

  constructor(position: Position | undefined, bufferLimit = DEFAULT_SNAPSHOT_BUFFER) {
    this.#position = position
    this.#bufferLimit = bufferLimit
  }

  /** Last accepted position, if any. */
  get position(): Position | undefined {
    return this.#position
  }

  /** Whether a snapshot is being fetched. */
  get fetchingSnapshot(): boolean {
    return this.#mode === 'snapshot'
  }

  /** Messages buffered while a snapshot is fetched. */
  get buffered(): number {
    return this.#buffer.length
  }

  /**
   * A `sub` is about to be sent (on every (re)connect); returns its `from`: the position when there
   * is one — a resume — else the app's starting point (`undefined`: the server's cursor).
   */
  subscribe(fallback: StartFrom | undefined): StartFrom | undefined {
    this.#pendingSubs += 1
    this.#wasRecovering = this.#position !== undefined
    return this.#position ?? fallback
  }

  /** The link was lost: no `sub` is pending any more. Buffering for a snapshot goes on. */
  disconnected(): void {
    this.#pendingSubs = 0
    this.#catchingUp = false
  }

  msg(msg: MsgFrame): TrackerAction[] {
    if (this.#mode === 'snapshot') {
      if (this.#buffer.length < this.#bufferLimit) this.#buffer.push(msg)
      else this.#overflowed = true
      return []
    }
    const position = this.#position
    if (position === undefined) {
      // First message of a subscription without a position ('earliest'): it is the baseline.
      this.#position = { epoch: msg.epoch, offset: msg.offset }
      return [{ kind: 'deliver', msg }]
    }
    // Offset 0 is the start of every history: a subscriber of a stream that did not exist yet
    // (epoch '') takes the first message of the history the stream was then created with.
    if (sameEpoch(msg.epoch, position.epoch) || (position.offset === 0 && msg.offset === 1)) {
      if (msg.offset <= position.offset) return []
      if (msg.offset === position.offset + 1) {
        this.#position = { epoch: msg.epoch, offset: msg.offset }
        return [{ kind: 'deliver', msg }]
      }
    }
    // A gap, or a message of another epoch: ask again from what we have. The server answers with
    // the missing messages, or with a `reset` if they are gone.
    return this.#catchUp()
  }

  caughtUp(frame: CaughtUpFrame): TrackerAction[] {
    this.#pendingSubs = Math.max(0, this.#pendingSubs - 1)
    if (this.#mode === 'snapshot' || this.#pendingSubs > 0) return []
    this.#catchingUp = false
    const position = this.#position
    if (position === undefined || (position.offset === 0 && frame.head === 0)) {
      this.#position = { epoch: frame.epoch, offset: frame.head }
    } else if (!sameEpoch(position.epoch, frame.epoch) || position.offset < frame.head) {
      // Replay is all-or-nothing, so ending below the head means a replayed frame was lost.
      return this.#catchUp()
    }
    return [{ kind: 'subscribed', recovered: frame.recovered, wasRecovering: this.#wasRecovering }]
  }

  /** The server cannot resume the position. `hasSnapshot`: the app can fetch one. */
  reset(frame: ResetFrame, hasSnapshot: boolean): TrackerAction[] {
    this.#pendingSubs = Math.max(0, this.#pendingSubs - 1)
    // Already fetching: the running fetch answers this reset too, and the buffer keeps filling.
    if (this.#mode === 'snapshot') return []
    this.#catchingUp = false
    const known = this.#position
    if (
      frame.reason === 'epoch' &&
      known !== undefined &&
      known.epoch !== frame.epoch &&
      sameEpoch(known.epoch, frame.epoch)
    ) {
      // Our position came from an HTTP offset token (padded epoch) and the server compares epochs
      // exactly: the same history, spelled differently. Adopt its spelling and ask again.
      this.#position = { epoch: frame.epoch, offset: known.offset }
      this.#catchingUp = true
      this.#pendingSubs += 1
      return [{ kind: 'resubscribe', from: this.#position }]
    }
    if (hasSnapshot) {
      this.#mode = 'snapshot'
      this.#buffer = []
      this.#overflowed = false
      return [{ kind: 'fetchSnapshot', reset: frame }]
    }
    const position = { epoch: frame.epoch, offset: frame.head }
    this.#position = position
    return [
      { kind: 'reset', reset: frame, position },
      { kind: 'subscribed', recovered: false, wasRecovering: this.#wasRecovering },
    ]
  }

  /**
   * The snapshot arrived, as of `position`. Returns the reset notice, then the buffered messages past
   * the snapshot, then a catch-up if the buffer does not continue the snapshot.
   */
  snapshot(reset: ResetFrame, position: Position): TrackerAction[] {
    this.#mode = 'live'
    this.#position = position
    const buffer = this.#buffer
    const overflowed = this.#overflowed
    this.#buffer = []
    this.#overflowed = false
    const actions: TrackerAction[] = [
      { kind: 'reset', reset, position },
      { kind: 'subscribed', recovered: false, wasRecovering: this.#wasRecovering },
    ]
    for (const msg of buffer) actions.push(...this.msg(msg))
    if (overflowed && !this.#catchingUp) actions.push(...this.#catchUp())
    return actions
  }

  #catchUp(): TrackerAction[] {
    if (this.#catchingUp || this.#position === undefined) return []
    this.#catchingUp = true
    this.#pendingSubs += 1
    return [{ kind: 'resubscribe', from: this.#position }]
  }
}
