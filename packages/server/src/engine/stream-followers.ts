import type { StoredMessage, Store, StreamRecord } from '../store/store.js'
import { JSON_CONTENT_TYPE } from '../store/store.js'
import { type Following, StreamHub } from './stream-hub.js'

/** A commit (local, or announced by another node), as fanned out to a stream's followers. */
export interface CommitEvent {
  readonly stream: string
  readonly epoch: string
  readonly head: number
  readonly closed: boolean
  readonly messages: readonly StoredMessage[]
  /** The stream's content type when the commit created it (the hub may not know it yet). */
  readonly contentType?: string | undefined
}

/** Where a new follower starts: the stream as its hub sees it once registered. */
export interface HubPosition {
  readonly epoch: string
  readonly head: number
  readonly tail: number
}

/** Epoch of a stream that does not exist (yet): a follower waits at offset 0 for its creation. */
export const NO_EPOCH = ''

/**
 * Everyone following a stream on this node, by stream: one hub per followed stream holds its
 * followers (the per-stream index) and its window of recent messages. A commit, a signal, a
 * presence change or a deletion of one stream touches that stream's followers only; nothing here
 * scans every subscription of the node.
 */
export class StreamFollowers {
  readonly #hubs = new Map<string, StreamHub>()

  constructor(
    private readonly store: Store,
    private readonly windowBytes: number,
  ) {}

  get size(): number {
    return this.#hubs.size
  }

  /** The hub of `stream`, if anyone follows it here. */
  get(stream: string): StreamHub | undefined {
    return this.#hubs.get(stream)
  }

  /** Streams followed on this node. */
  streams(): IterableIterator<string> {
    return this.#hubs.keys()
  }

  /**
   * Registers the hub of `name` (creating it from `record`, or empty when the stream does not
   * exist yet), then reads the stream again. Commits that land between the caller's first read
   * and the registration would otherwise reach neither: every commit is now either in that second
   * read or delivered to the hub. A head newer than the hub's (a commit on another node whose
   * announcement was lost) wakes the followers already there: raising the head silently would
   * leave them idle below it, and the heal job, which compares the store with the hub, would see
   * nothing to repair.
   */
  async open(
    name: string,
    record: StreamRecord | undefined,
  ): Promise<{ hub: StreamHub; at: HubPosition }> {
    const hub = this.#hub(name, record)
    // Pinned until the caller's following starts (or stops): see StreamHub.joining.
    hub.joining += 1
    const fresh = (await this.store.getStream(name)) ?? record
    if (fresh !== undefined && !fresh.softDeleted) {
      if (hub.epoch === NO_EPOCH) {
        // Created between the two reads: adopt it, followers wake and read it from the store.
        hub.contentType = fresh.contentType
        hub.advance(fresh.epoch, fresh.head, [], fresh.closed)
      } else if (
        fresh.epoch === hub.epoch &&
        (fresh.head > hub.head || fresh.closed !== hub.closed)
      ) {
        hub.advance(hub.epoch, fresh.head, [], fresh.closed)
      }
    }
    const tail = fresh !== undefined && fresh.epoch === hub.epoch ? fresh.tail : hub.head + 1
    return { hub, at: { epoch: hub.epoch, head: hub.head, tail } }
  }

  /** Drops `hub` once its last follower left and nobody is joining it. */
  release(hub: StreamHub): void {
    if (hub.followings.size === 0 && hub.joining === 0 && this.#hubs.get(hub.name) === hub) {
      this.#hubs.delete(hub.name)
    }
  }

  /** Fans a commit out to the stream's followers (they pull from the window or the store). */
  advance(event: CommitEvent): void {
    const hub = this.#hubs.get(event.stream)
    if (hub === undefined) return
    if (hub.epoch !== event.epoch && event.contentType !== undefined) {
      hub.contentType = event.contentType
    }
    hub.advance(event.epoch, event.head, event.messages, event.closed)
  }

  /** The stream was deleted (or recreated elsewhere): its hub goes; returns who followed it. */
  remove(stream: string): Following[] {
    const hub = this.#hubs.get(stream)
    if (hub === undefined) return []
    this.#hubs.delete(stream)
    return [...hub.followings]
  }

  /** The lowest offset any follower here still needs, so retention keeps it. */
  keepFrom(stream: string): number | undefined {
    return this.#hubs.get(stream)?.keepFrom()
  }

  #hub(name: string, record: StreamRecord | undefined): StreamHub {
    let hub = this.#hubs.get(name)
    const epoch = record === undefined || record.softDeleted ? NO_EPOCH : record.epoch
    // A hub waiting for the stream to exist adopts it (in `open`); one of another history is
    // replaced (its followers were told when that history was deleted).
    if (
      hub === undefined ||
      (epoch !== NO_EPOCH && hub.epoch !== NO_EPOCH && hub.epoch !== epoch)
    ) {
      hub = new StreamHub(
        name,
        epoch,
        record?.contentType ?? JSON_CONTENT_TYPE,
        epoch === NO_EPOCH ? 0 : (record?.head ?? 0),
        this.windowBytes,
      )
      hub.closed = epoch !== NO_EPOCH && record?.closed === true
      this.#hubs.set(name, hub)
    }
    return hub
  }
}
