/** What publishers send: publisher index and its running number. */
export interface ChaosPayload {
  readonly p: number
  readonly n: number
}

/** A publish the server acknowledged (committed, for Seqline). */
export interface Acked {
  readonly id: string
  /** The stream offset, for systems that assign one. */
  readonly offset: number | undefined
}

/** One message handed to the application callback. */
export interface Delivered {
  readonly payload: ChaosPayload
  readonly offset: number | undefined
}

/** The score of one client after a run (the columns of the reliability tables). */
export interface ClientScore {
  readonly client: string
  /** Acknowledged messages this client had to get. */
  readonly expected: number
  /** Distinct expected messages handed to the app. */
  readonly delivered: number
  /** Acknowledged, expected, but neither delivered nor covered by a snapshot. */
  readonly lost: number
  /** Deliveries of a message already delivered (or already contained in a snapshot). */
  readonly duplicated: number
  /** Deliveries that went backwards (offset, or a publisher's own order). */
  readonly outOfOrder: number
  /** Messages the client never saw one by one because a snapshot contained them (G3). */
  readonly viaSnapshot: number
  readonly resets: number
  /** Resets that were answered by the snapshot path (all of them, when the client is correct). */
  readonly resetsRecovered: number
  /** The client's last events (see {@link DeliveryLog.note}). */
  readonly notes: readonly string[]
  /** The transports the client was open over (`websocket`, `sse`, `long-poll`), first use first. */
  readonly transports: readonly string[]
}

export const idOf = (payload: ChaosPayload): string => `${payload.p}:${payload.n}`

/**
 * The record of what one application instance (one subscriber, across its reloads) processed,
 * and its score against what the server acknowledged.
 */
export class DeliveryLog {
  readonly #seen = new Map<string, number>()
  readonly #lastNOf = new Map<number, number>()
  /** Offset ranges `(from, to]` a snapshot brought in. */
  readonly #covered: { from: number; to: number }[] = []
  #lastOffset = 0
  #duplicated = 0
  #outOfOrder = 0
  #resets = 0
  #resetsRecovered = 0
  #deliveries = 0
  /** Callbacks from a client object after the app dropped it (a reload): must stay 0. */
  lateCallbacks = 0
  /** The last client events, kept to explain a failure. */
  readonly notes: string[] = []
  readonly #transports = new Set<string>()

  /** Records a client event (state change, error) with the time and the last delivered offset. */
  note(text: string): void {
    this.notes.push(`${new Date().toISOString().slice(11, 23)} @${this.#lastOffset} ${text}`)
    if (this.notes.length > 80) this.notes.shift()
  }

  /** Records that the client is open over `transport`. */
  opened(transport: string): void {
    this.#transports.add(transport)
    this.note(`state open over ${transport}`)
  }

  constructor(
    readonly name: string,
    /** Only acknowledged messages past this offset are expected (a duplicated tab starts late). */
    readonly startAfter = 0,
  ) {}

  /** Deliveries so far, duplicates included (progress). */
  get deliveries(): number {
    return this.#deliveries
  }

  deliver({ payload, offset }: Delivered): void {
    this.#deliveries += 1
    const id = idOf(payload)
    const times = this.#seen.get(id) ?? 0
    this.#seen.set(id, times + 1)
    if (times > 0 || (offset !== undefined && this.#isCovered(offset))) {
      this.#duplicated += 1
      return
    }
    const lastN = this.#lastNOf.get(payload.p) ?? -1
    if ((offset !== undefined && offset <= this.#lastOffset) || payload.n < lastN) {
      this.#outOfOrder += 1
    }
    if (offset !== undefined) this.#lastOffset = Math.max(this.#lastOffset, offset)
    this.#lastNOf.set(payload.p, Math.max(lastN, payload.n))
  }

  /**
   * The stream was reset. `snapshotOffset`: the snapshot's position, when the app recovered
   * through the snapshot path; undefined when it was told but had no snapshot.
   */
  reset(snapshotOffset: number | undefined): void {
    this.note(`reset, snapshot at ${snapshotOffset}`)
    this.#resets += 1
    if (snapshotOffset === undefined) return
    this.#resetsRecovered += 1
    if (snapshotOffset > this.#lastOffset) {
      this.#covered.push({ from: this.#lastOffset, to: snapshotOffset })
      this.#lastOffset = snapshotOffset
    }
  }

  /** Whether every acknowledged message this client must get is delivered or covered. */
  complete(acked: readonly Acked[]): boolean {
    return acked.every((a) => !this.#expects(a) || this.#has(a))
  }

  score(acked: readonly Acked[]): ClientScore {
    let expected = 0
    let delivered = 0
    let viaSnapshot = 0
    let lost = 0
    for (const a of acked) {
      if (!this.#expects(a)) continue
      expected += 1
      if (this.#seen.has(a.id)) delivered += 1
      else if (a.offset !== undefined && this.#isCovered(a.offset)) viaSnapshot += 1
      else lost += 1
    }
    return {
      client: this.name,
      expected,
      delivered,
      lost,
      duplicated: this.#duplicated,
      outOfOrder: this.#outOfOrder,
      viaSnapshot,
      resets: this.#resets,
      resetsRecovered: this.#resetsRecovered,
      notes: [...this.notes],
      transports: [...this.#transports],
    }
  }

  #expects(a: Acked): boolean {
    return a.offset === undefined || a.offset > this.startAfter
  }

  #has(a: Acked): boolean {
    return this.#seen.has(a.id) || (a.offset !== undefined && this.#isCovered(a.offset))
  }

  #isCovered(offset: number): boolean {
    return this.#covered.some((range) => offset > range.from && offset <= range.to)
  }
}
