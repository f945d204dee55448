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
    const first = this.#window[0]
    if (first === undefined || first.offset > position + 1) return undefined
    const start = position + 1 - first.offset
    if (start >= this.#window.length) return []
    return this.#window.slice(start, start + max)
  }

  /** Frames messages read from the store (replay below the window). */
  frame(messages: readonly StoredMessage[]): FramedMessage[] {
    return messages.map((m) => frameMessage(this.name, this.epoch, this.contentType, m))
  }

  #trimWindow(): void {
    let drop = 0
    while (this.#windowBytes > this.maxWindowBytes && drop < this.#window.length - 1) {
      this.#windowBytes -= this.#window[drop]?.frame.byteLength ?? 0
      drop += 1
    }
    if (drop > 0) this.#window = this.#window.slice(drop)
  }

  #clearWindow(): void {
    this.#window = []
    this.#windowBytes = 0
  }
}
