import type { StoredMessage } from '../store/store.js'
import { CommittedMessage } from './committed-message.js'
import type { Follower } from './follower.js'

/** One follower of one stream on this node, driven by a cursor pump. */
export interface Following {
  readonly stream: string
  readonly follower: Follower
  /** First offset it still has to deliver: retention keeps it (see `StreamHub.keepFrom`). */
  readonly needsFrom: number
  /** Called after the stream advanced; the following pulls what it needs. */
  wake(): void
}

/**
 * In-memory state of one stream on this node while anyone follows it: its epoch and head, its
 * followers (the per-stream subscriber index: a commit, a signal or a deletion touches only them),
 * and a window of recently committed messages, so live fan-out never touches the store and each
 * message is encoded once per wire format. Followers that fall behind the window read from the
 * store instead (see CursorPump).
 */
export class StreamHub<F extends Following = Following> {
  readonly followings = new Set<F>()
  #window: CommittedMessage[] = []
  /**
   * Index of the oldest message still in the window; entries before it are dead. Trimming moves
   * this index instead of copying the array: a copy of the whole window on every commit made live
   * fan-out quadratic.
   */
  #first = 0
  #windowBytes = 0
  /** The stream accepts no more appends (Durable Streams closure), as far as this node knows. */
  closed = false
  /**
   * Followers that registered this hub and have not started yet (they await the store): the hub
   * must outlive its last current follower for them, or they would join a hub no commit reaches.
   */
  joining = 0

  constructor(
    readonly name: string,
    public epoch: string,
    public contentType: string,
    public head: number,
    private readonly maxWindowBytes: number,
  ) {}

  /**
   * Records committed messages and wakes every follower. Messages that do not continue the window
   * (a commit seen out of order, another epoch) restart it.
   */
  advance(epoch: string, head: number, messages: readonly StoredMessage[], closed = false): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.closed = false
      this.#clearWindow()
    }
    if (closed) this.closed = true
    if (messages.length > 0) {
      const first = messages[0]
      const last = this.#window.at(-1)
      if (first !== undefined && last !== undefined && last.offset + 1 !== first.offset) {
        this.#clearWindow()
      }
      for (const stored of messages) {
        const message = new CommittedMessage(this.name, epoch, this.contentType, stored)
        this.#window.push(message)
        this.#windowBytes += message.weight
      }
      this.#trimWindow()
    }
    if (head > this.head) this.head = head
    for (const following of this.followings) following.wake()
  }

  /**
   * Up to `max` messages after `position`, from the window; `undefined` when the window does not
   * reach back to `position + 1` (the caller must read the store).
   */
  recentAfter(position: number, max: number): CommittedMessage[] | undefined {
    const first = this.#window[this.#first]
    if (first === undefined || first.offset > position + 1) return undefined
    const start = this.#first + position + 1 - first.offset
    // The window may end before the head: a commit announced by another node arrives without
    // its messages (`advance(…, [])`). Then the store has them, not the window.
    if (start >= this.#window.length) return undefined
    return this.#window.slice(start, start + max)
  }

  /** Wraps messages read from the store (replay below the window). */
  wrap(messages: readonly StoredMessage[]): CommittedMessage[] {
    return messages.map((m) => new CommittedMessage(this.name, this.epoch, this.contentType, m))
  }

  /** The lowest offset a follower here still has to deliver, if anyone follows. */
  keepFrom(): number | undefined {
    let keepFrom: number | undefined
    for (const following of this.followings) {
      keepFrom = Math.min(keepFrom ?? Infinity, following.needsFrom)
    }
    return keepFrom
  }

  /** Followers of this stream that are `follower`'s peers, i.e. everyone but `except`. */
  *others(except: Follower | undefined): Generator<F> {
    for (const following of this.followings) if (following.follower !== except) yield following
  }

  #trimWindow(): void {
    while (this.#windowBytes > this.maxWindowBytes && this.#first < this.#window.length - 1) {
      this.#windowBytes -= this.#window[this.#first]?.weight ?? 0
      this.#first += 1
    }
    // Compact once 1024 entries or half the array are dead: O(1) amortised per message, and the
    // dead entries (which still hold their encodings) stay a bounded fraction of the window.
    if (this.#first >= 1024 || this.#first * 2 > this.#window.length) {
      this.#window = this.#window.slice(this.#first)
      this.#first = 0
    }
  }

  #clearWindow(): void {
    this.#window = []
    this.#first = 0
    this.#windowBytes = 0
  }
}
