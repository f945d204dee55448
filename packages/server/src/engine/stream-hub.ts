import type { StoredMessage } from '../store/store.js'
import { type FramedMessage, frameMessage } from './message-frame.js'

/** The hub's view of whoever follows the stream on this node. */
export interface HubMember {
  /** Called after the stream advanced; the member pulls what it needs. */
  wake(): void
}

/**
 * In-memory state of one stream on this node while anyone follows it: its epoch and head, the
 * members to wake when it advances, and a window of recently committed messages with their frames
 * already serialised, so live fan-out never touches the store and never serialises twice.
 * Members that fall behind the window read from the store instead (see CursorPump).
 */
export class StreamHub {
  readonly members = new Set<HubMember>()
  #window: FramedMessage[] = []
  /**
   * Index of the oldest message still in the window; entries before it are dead. Trimming moves
   * this index instead of copying the array: a copy of the whole window (~20k frames at 4 MiB) on
   * every commit made live fan-out quadratic — with one subscriber, publishing ran ~8× slower.
   */
  #first = 0
  #windowBytes = 0

  constructor(
    readonly name: string,
    public epoch: string,
    public contentType: string,
    public head: number,
    private readonly maxWindowBytes: number,
  ) {}

  /**
   * Records committed messages and wakes every member. Messages that do not continue the window
   * (a commit seen out of order, another epoch) restart it.
   */
  advance(epoch: string, head: number, messages: readonly StoredMessage[]): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.#clearWindow()
    }
    if (messages.length > 0) {
      const first = messages[0]
      const last = this.#window.at(-1)
      if (first !== undefined && last !== undefined && last.offset + 1 !== first.offset) {
        this.#clearWindow()
      }
      for (const message of messages) {
        const framed = frameMessage(this.name, epoch, this.contentType, message)
        this.#window.push(framed)
        this.#windowBytes += framed.frame.byteLength
      }
      this.#trimWindow()
    }
    if (head > this.head) this.head = head
    for (const member of this.members) member.wake()
  }

  /**
   * Up to `max` framed messages after `position`, from the window; `undefined` when the window
   * does not reach back to `position + 1` (the caller must read the store).
   */
  recentAfter(position: number, max: number): FramedMessage[] | undefined {
    const first = this.#window[this.#first]
    if (first === undefined || first.offset > position + 1) return undefined
    const start = this.#first + position + 1 - first.offset
    // The window may end before the head: a commit announced by another node arrives without
    // its messages (`advance(…, [])`). Then the store has them, not the window.
    if (start >= this.#window.length) return undefined
    return this.#window.slice(start, start + max)
  }

  /** Frames messages read from the store (replay below the window). */
  frame(messages: readonly StoredMessage[]): FramedMessage[] {
    return messages.map((m) => frameMessage(this.name, this.epoch, this.contentType, m))
  }

  #trimWindow(): void {
    while (this.#windowBytes > this.maxWindowBytes && this.#first < this.#window.length - 1) {
      this.#windowBytes -= this.#window[this.#first]?.frame.byteLength ?? 0
      this.#first += 1
    }
    // Compact once 1024 entries or half the array are dead: O(1) amortised per message, and the
    // dead entries (which still hold their frames) stay a bounded fraction of the window.
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
