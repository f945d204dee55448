import { type ClientFrame, ErrorCode } from '@seqline/protocol'
import { backoffDelay } from './backoff.js'
import { RetryTimer } from './retry-timer.js'
import type { Refusal, SessionContext } from './session-context.js'

//
//   ┌──────┐  frames queued, or `received` due  ┌─────────┐  204
//   │ idle ├────────────────────────────────────▶│ posting ├──────▶ idle (and the next batch, if any)
//   └──────┘                                     └──┬───▲──┘
//                 network error, 5xx, 429,          │   │ backoff timer (Retry-After when given),
//                 401 TOKEN_EXPIRED                 ▼   │ or a fresh token: the same batch again
//                                              ┌─────────┴┐
//                                              │ waiting  │
//                                              └──────────┘
//   any ──400 / 401 / 403 / 404 SESSION_UNKNOWN / link closed──▶ stopped
//
// One POST at a time per session: `{batch, received?, frames}`. Frames sent meanwhile are queued and
// go out together in the next batch. A batch is retried with its number, so the server, which
// acknowledges a number it has processed without processing it again, never handles a frame twice.
// A batch refused as too large (413) was not processed: its frames go again one per batch, under
// the same number, and a single frame that is still too large is answered here as the server would
// over WebSocket (`nack` / `error` PAYLOAD_TOO_LARGE).

interface Batch {
  readonly n: number
  readonly frames: readonly ClientFrame[]
}

/** State of a {@link SessionSender} (diagram above). */
export type SenderState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'posting'; readonly batch: Batch }
  | { readonly kind: 'waiting'; readonly batch: Batch; readonly reason: Refusal['kind'] }
  | { readonly kind: 'stopped' }

/** The client → server side of one HTTP session. */
export class SessionSender {
  readonly #ctx: SessionContext
  readonly #retry: RetryTimer
  readonly #queue: ClientFrame[] = []
  #state: SenderState = { kind: 'idle' }
  /** Number of the last batch formed. */
  #batches = 0
  /** Batches still to be sent one frame each (after a 413). */
  #singles = 0
  #ackDue = false

  constructor(ctx: SessionContext) {
    this.#ctx = ctx
    const { clock, backoff, random } = ctx.settings
    this.#retry = new RetryTimer(
      clock,
      () => {
        if (this.#state.kind === 'waiting') this.#post(this.#state.batch)
      },
      (attempt) => backoffDelay(attempt, backoff, random),
    )
  }

  get state(): SenderState {
    return this.#state
  }

  send(frame: ClientFrame): void {
    if (this.#state.kind === 'stopped') return
    this.#queue.push(frame)
    this.#kick()
  }

  /** Acknowledge the frames read so far (`received`), with the next POST or one of its own. */
  ack(): void {
    this.#ackDue = true
    this.#kick()
  }

  /** The token changed: a batch refused for an expired token goes again now. */
  tokenChanged(): void {
    if (this.#state.kind === 'waiting' && this.#state.reason === 'token') {
      this.#retry.cancel()
      this.#post(this.#state.batch)
    }
  }

  stop(): void {
    this.#state = { kind: 'stopped' }
    this.#retry.reset()
    this.#queue.length = 0
  }

  #kick(): void {
    if (this.#state.kind !== 'idle') return
    if (this.#queue.length === 0 && !(this.#ackDue && this.#ctx.lastSeq > this.#ctx.acked)) return
    this.#post({ n: ++this.#batches, frames: this.#take() })
  }

  /** The next frames, up to `maxBatchBytes` of JSON (at least one frame). */
  #take(): ClientFrame[] {
    if (this.#singles > 0) {
      this.#singles -= 1
      return this.#queue.splice(0, 1)
    }
    let bytes = 0
    let count = 0
    for (const frame of this.#queue) {
      bytes += JSON.stringify(frame).length
      if (count > 0 && bytes > this.#ctx.settings.maxBatchBytes) break
      count += 1
    }
    return this.#queue.splice(0, count)
  }

  #post(batch: Batch): void {
    const posting: SenderState = { kind: 'posting', batch }
    this.#state = posting
    this.#ackDue = false
    const received = this.#ctx.lastSeq
    const body = {
      batch: batch.n,
      ...(received > this.#ctx.acked ? { received } : {}),
      frames: batch.frames,
    }
    this.#ctx
      .request(`${this.#ctx.path}/frames`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      .then((res): Promise<Refusal> | Refusal | 'done' => {
        if (this.#state !== posting) {
          void res.body?.cancel().catch(() => {})
          return 'done'
        }
        if (res.ok) {
          void res.body?.cancel().catch(() => {})
          this.#ctx.acked = Math.max(this.#ctx.acked, received)
          this.#retry.reset()
          this.#state = { kind: 'idle' }
          this.#kick()
          return 'done'
        }
        if (res.status === 413) {
          void res.body?.cancel().catch(() => {})
          this.#tooLarge(batch)
          return 'done'
        }
        // 400 (our own frames, refused as malformed) ends the session too: nothing of the batch
        // was processed, and a new session re-sends what matters rather than drop a publish.
        return this.#ctx.refused(res)
      })
      .then(
        (outcome) => {
          if (outcome === 'done' || this.#state !== posting) return
          this.#next(batch, outcome)
        },
        () => {
          if (this.#state === posting) this.#next(batch, { kind: 'retry' })
        },
      )
  }

  #next(batch: Batch, outcome: Refusal): void {
    if (outcome.kind === 'ended') {
      this.stop()
      return
    }
    this.#state = { kind: 'waiting', batch, reason: outcome.kind }
    this.#retry.schedule(outcome.kind === 'retry' ? outcome.delayMs : undefined)
  }

  /** 413: nothing of the batch was processed, so its number is free again. */
  #tooLarge(batch: Batch): void {
    this.#batches = batch.n - 1
    this.#state = { kind: 'idle' }
    if (batch.frames.length > 1) {
      this.#queue.unshift(...batch.frames)
      this.#singles += batch.frames.length
    } else {
      const [frame] = batch.frames
      const message = 'frame over the size limit of an HTTP session request'
      const code = ErrorCode.PAYLOAD_TOO_LARGE
      if (frame?.t === 'pub') {
        this.#ctx.emit({ t: 'nack', stream: frame.stream, seq: frame.seq, code, message })
      } else if (frame !== undefined && 'stream' in frame) {
        this.#ctx.emit({ t: 'error', code, message, stream: frame.stream })
      } else this.#ctx.emit({ t: 'error', code, message })
    }
    this.#kick()
  }
}
