import { parseServerFrame } from '@seqline/protocol'
import { backoffDelay } from './backoff.js'
import type { TimerHandle } from './clock.js'
import { EventStreamParser } from './event-stream-parser.js'
import { RetryTimer } from './retry-timer.js'
import type { ReadModes, Refusal, SessionContext } from './session-context.js'

//
//   ┌─────────┐  the response ended (the server ends SSE reads every ~60 s; a long-poll answered)
//   │ reading ├──────────────────────────────────────────────────────────▶ reading (after=lastSeq)
//   └──┬───▲──┘  no byte of an SSE response within sseProbeMs: switch to long-poll, for good
//      │   │
//      │   └────── backoff timer, or a fresh token ────────┐
//      │ network error, 5xx, 401 TOKEN_EXPIRED        ┌─────┴───┐
//      └─────────────────────────────────────────────▶│ waiting │
//                                                     └─────────┘
//   any ──404 SESSION_UNKNOWN / 401 / 403 / link closed──▶ stopped
//
// One read at a time per session: `GET <path>/events?after=<seq>&mode=sse|poll`. A read cut in the
// middle resumes with `after` = the last event handled, on the same session; the server sends every
// frame after it again, and one that arrives twice anyway (a sequence number at or below `after`)
// is dropped.

/** State of a {@link SessionReader} (diagram above). */
export type ReaderState =
  | { readonly kind: 'reading'; readonly mode: 'sse' | 'poll'; readonly abort: AbortController }
  | { readonly kind: 'waiting'; readonly reason: Refusal['kind'] }
  | { readonly kind: 'stopped' }

type Outcome = Refusal | { readonly kind: 'again' }

/** The event read of one HTTP session. */
export class SessionReader {
  readonly #ctx: SessionContext
  readonly #modes: ReadModes
  readonly #retry: RetryTimer
  #state: ReaderState = { kind: 'waiting', reason: 'retry' }

  constructor(ctx: SessionContext, modes: ReadModes) {
    this.#ctx = ctx
    this.#modes = modes
    const { clock, backoff, random } = ctx.settings
    this.#retry = new RetryTimer(
      clock,
      () => {
        if (this.#state.kind === 'waiting') this.#read()
      },
      (attempt) => backoffDelay(attempt, backoff, random),
    )
  }

  get state(): ReaderState {
    return this.#state
  }

  start(): void {
    this.#read()
  }

  /** The token changed: a read refused for an expired token tries again now. */
  tokenChanged(): void {
    if (this.#state.kind === 'waiting' && this.#state.reason === 'token') {
      this.#retry.cancel()
      this.#read()
    }
  }

  stop(): void {
    const state = this.#state
    this.#state = { kind: 'stopped' }
    this.#retry.reset()
    if (state.kind === 'reading') state.abort.abort()
  }

  #read(): void {
    if (this.#state.kind === 'stopped') return
    const mode = this.#modes.mode()
    const reading: Extract<ReaderState, { kind: 'reading' }> = {
      kind: 'reading',
      mode,
      abort: new AbortController(),
    }
    this.#state = reading
    const { clock, sseProbeMs } = this.#ctx.settings
    let heard = false
    let probe: TimerHandle | undefined
    if (mode === 'sse') {
      probe = clock.setTimeout(() => {
        probe = undefined
        if (this.#state !== reading || heard) return
        // Not one byte, although the server writes `: open` at once: a proxy holds the response
        // until it ends. Long-poll answers end, so they get through such a proxy.
        this.#modes.switchToPoll()
        reading.abort.abort()
      }, sseProbeMs)
    }
    const heardNow = (): void => {
      heard = true
      if (probe !== undefined) clock.clearTimeout(probe)
      probe = undefined
    }
    // `after` acknowledges every frame up to it, as `received` does.
    const after = this.#ctx.lastSeq
    this.#ctx.acked = Math.max(this.#ctx.acked, after)
    this.#ctx
      .request(`${this.#ctx.path}/events?after=${after}&mode=${mode}`, {
        signal: reading.abort.signal,
        headers: { accept: mode === 'sse' ? 'text/event-stream' : 'application/json' },
      })
      .then(async (res): Promise<Outcome> => {
        if (this.#state !== reading) {
          void res.body?.cancel().catch(() => {})
          return { kind: 'again' }
        }
        if (res.status !== 200) return this.#ctx.refused(res)
        if (mode === 'poll') {
          heardNow()
          await this.#poll(res, reading)
          return { kind: 'again' }
        }
        await this.#follow(res, reading, heardNow)
        // A response that ended without a byte is not the server's (it writes `: open` first).
        return heard ? { kind: 'again' } : { kind: 'retry' }
      })
      .then(
        (outcome) => {
          if (probe !== undefined) clock.clearTimeout(probe)
          if (this.#state !== reading) return
          this.#next(outcome)
        },
        () => {
          if (probe !== undefined) clock.clearTimeout(probe)
          if (this.#state !== reading) return
          // Aborted by the probe: read again at once, now long-polling. Else the read was cut (a
          // dropped connection, a proxy reset): resume it on this session after the backoff —
          // from its first step when the read had worked, as a WebSocket's backoff restarts once
          // it was open: cuts of working reads do not add up into minutes of silence.
          if (heard) this.#retry.reset()
          this.#next(reading.abort.signal.aborted ? { kind: 'again' } : { kind: 'retry' })
        },
      )
  }

  #next(outcome: Outcome): void {
    switch (outcome.kind) {
      case 'again':
        this.#retry.reset()
        this.#read()
        return
      case 'retry':
      case 'token':
        this.#state = { kind: 'waiting', reason: outcome.kind }
        this.#retry.schedule(outcome.kind === 'retry' ? outcome.delayMs : undefined)
        return
      case 'ended':
        this.stop()
    }
  }

  /** Reads an SSE response to its end, handing over each complete event. */
  async #follow(res: Response, reading: ReaderState, heard: () => void): Promise<void> {
    if (res.body === null) return
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    const parser = new EventStreamParser()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      if (this.#state !== reading) {
        void reader.cancel().catch(() => {})
        return
      }
      heard()
      const text = decoder.decode(value, { stream: true })
      for (const event of parser.push(text)) {
        if (this.#state !== reading) return
        this.#event(event.id === undefined ? undefined : Number(event.id), event.data)
      }
      this.#ctx.received(value.byteLength)
    }
  }

  /** Handles a long-poll answer: `{frames, next}`, the frames numbered up to `next`. */
  async #poll(res: Response, reading: ReaderState): Promise<void> {
    const body = (await res.json()) as { frames?: unknown[]; next?: number }
    const frames = Array.isArray(body.frames) ? body.frames : []
    const next = typeof body.next === 'number' ? body.next : this.#ctx.lastSeq + frames.length
    for (const [i, frame] of frames.entries()) {
      if (this.#state !== reading) return
      this.#event(next - frames.length + 1 + i, JSON.stringify(frame))
    }
    this.#ctx.lastSeq = Math.max(this.#ctx.lastSeq, next)
  }

  #event(seq: number | undefined, data: string): void {
    if (seq !== undefined && Number.isSafeInteger(seq)) {
      // Sent again after a resumed read: already handled.
      if (seq <= this.#ctx.lastSeq) return
      this.#ctx.lastSeq = seq
    }
    let frame
    try {
      frame = parseServerFrame(data)
    } catch {
      // An unknown or malformed frame from a newer server: skip it, as over WebSocket.
      return
    }
    // The welcome came with the session's creation; a copy on the event read changes nothing.
    if (frame.t !== 'welcome') this.#ctx.emit(frame)
  }
}
