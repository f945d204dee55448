import type { SeqlineError } from '@seqline/protocol'
import type { Clock } from './clock.js'
import { RetryTimer } from './retry-timer.js'

//
//   The publishes of one stream, as the outbox sends them:
//
//   ┌─────────┐  connection opened   ┌─────────┐  nack (RATE_LIMITED: backoff;   ┌─────────┐
//   │ offline ├─────────────────────▶│ sending ├─────────────────────────────────▶│ waiting │
//   └─────────┘◀─────────────────────┴─────────┘  SEQ_GAP, INVALID_PRODUCER, …:   └────┬────┘
//        ▲         connection lost         ▲       at once, after the echoes)          │
//        │                                 └──────── retry timer: send again ──────────┘
//        └──────────────────── connection lost ────────────────────────────────────────┘
//
//   any ──nack PRODUCER_FENCED──▶ fenced   (terminal: every publish of the stream rejects)
//
// `sending.sent` counts the entries at the front that are on the current link; the rest go out as
// pubacks make room (`maxInFlight`). An entry goes out only once its write to storage finished
// (`persisted`), and never past one that did not: its seq must be durable before the server sees it.

/** A publish waiting for its `puback`, as stored. */
export interface StoredEntry {
  readonly id: string
  readonly stream: string
  readonly epoch: number
  readonly seq: number
  readonly data: unknown
}

/** A publish waiting for its `puback`, in memory. */
export interface Entry extends StoredEntry {
  /** Created by this instance (as opposed to loaded from storage, possibly another tab's). */
  readonly local: boolean
  /** Its write to storage finished; only then may it be sent. */
  persisted: boolean
}

/** Producer state of one stream (DESIGN §4). */
export interface ProducerState {
  readonly epoch: number
  readonly nextSeq: number
}

/** State of an {@link OutboxQueue} (diagram above). */
export type QueueState =
  | { readonly kind: 'offline' }
  | { readonly kind: 'sending'; sent: number }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'fenced'; readonly error: SeqlineError }

/** The pending publishes and producer state of one stream. */
export class OutboxQueue {
  readonly stream: string
  producer: ProducerState
  /** Pending entries in seq order. */
  entries: Entry[] = []
  #state: QueueState
  /** Owned here: its attempt count grows with consecutive refusals and resets on a puback. */
  readonly #retry: RetryTimer

  constructor(
    stream: string,
    producer: ProducerState,
    open: boolean,
    clock: Clock,
    delayOf: (attempt: number) => number,
    resend: (queue: OutboxQueue) => void,
  ) {
    this.stream = stream
    this.producer = producer
    this.#state = open ? { kind: 'sending', sent: 0 } : { kind: 'offline' }
    this.#retry = new RetryTimer(
      clock,
      () => {
        if (this.#state.kind !== 'waiting') return
        this.transition({ kind: 'sending', sent: 0 })
        resend(this)
      },
      delayOf,
    )
  }

  get state(): QueueState {
    return this.#state
  }

  /** Moves to `to`; leaving `waiting` cancels its retry. A fenced queue stays fenced. */
  transition(to: QueueState): void {
    const from = this.#state
    if (from.kind === 'fenced') return
    if (from.kind === 'waiting' && to.kind !== 'waiting') this.#retry.cancel()
    this.#state = to
  }

  /**
   * A nack asked to wait before sending again from the first entry: after `delayMs`, or the
   * backoff of the current attempt. Further nacks while waiting (the echoes of a pipeline) change
   * nothing.
   */
  wait(delayMs?: number): void {
    if (this.#state.kind !== 'sending') return
    this.transition({ kind: 'waiting' })
    this.#retry.schedule(delayMs)
  }

  /** A puback while sending: the next refusal starts the backoff from the beginning again. */
  progressed(): void {
    if (this.#state.kind === 'sending') this.#retry.reset()
  }

  /** Removes the entry at `index`; it no longer counts as sent. */
  remove(index: number): Entry | undefined {
    const [entry] = this.entries.splice(index, 1)
    if (this.#state.kind === 'sending' && index < this.#state.sent) this.#state.sent -= 1
    return entry
  }

  /** Nothing counts as sent any more (the entries were renumbered). */
  unsend(): void {
    if (this.#state.kind === 'sending') this.#state.sent = 0
  }
}
