import type { ServerResponse } from 'node:http'
import type { CloseCode, ErrorCode } from '@seqline/protocol'
import type { FrameLink } from '../../connection/frame-link.js'
import { msgFrameText } from '../../connection/msg-frame.js'
import type { CommittedMessage, MessageEncoding } from '../../engine/committed-message.js'

/** A message's `msg` frame as JSON text: built once per message, shared by every session. */
const sessionMessage: MessageEncoding<Buffer> = {
  name: 'http-session',
  encode: (message) => Buffer.from(msgFrameText(message)),
}

const LINE_BREAK = /\r\n|\r|\n/g

/** One frame of the session, numbered. */
interface NumberedFrame {
  readonly seq: number
  readonly text: Buffer
}

/** Settings of a session link. */
export interface SessionLinkSettings {
  /** Unacknowledged bytes above which message delivery pauses (the high-water mark). */
  readonly highWaterMark: number
  /** A keep-alive comment is written to an idle SSE read this often. */
  readonly keepAliveMs: number
  /** An SSE read is ended after this long (the client reads on, through its proxies). */
  readonly sseCloseAfterMs: number
  /** A long-poll answers empty after this long. */
  readonly longPollTimeoutMs: number
  /** Most bytes of frames in one long-poll answer (at least one frame). */
  readonly maxPollBytes: number
}

/** How the hello of a new session ended. */
export type HelloOutcome =
  | { readonly kind: 'welcome'; readonly text: Buffer; readonly userId: string }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string }

/** The read attached to a session: an SSE response or a waiting long-poll. */
interface AttachedRead {
  /** New frames were pushed (or the session ended). */
  wake(): void
  /** A newer read replaced this one. */
  end(): void
}

/**
 * One HTTP session as a transport link (docs/protocol.md, "HTTP sessions"): every frame the
 * connection writes is numbered and kept until the client acknowledges it (`after=` on a read,
 * `received` on a POST), so a read cut by a proxy resumes on the same session without loss. The
 * kept bytes are the link's `bufferedAmount`: message delivery pauses at the high-water mark like
 * on a WebSocket whose socket is full, and the connection cuts a client that leaves too much
 * unread (G6). At most one read is attached at a time; a new one replaces it.
 */
export class SessionLink implements FrameLink {
  readonly #frames: NumberedFrame[] = []
  #unacked = 0
  #nextSeq = 0
  #acked = 0
  #corked = 0
  #read: AttachedRead | undefined
  #drainWaiters: (() => void)[] = []
  #inboundPaused = false
  #inboundWaiters: (() => void)[] = []
  #ended: { readonly code: CloseCode; readonly reason: string } | undefined
  #hello: ((outcome: HelloOutcome) => void) | undefined
  #helloError: { code: ErrorCode; message: string } | undefined
  /** Last time a request of the client touched the session (idle sessions end). */
  lastActivity = Date.now()
  userId: string | undefined

  constructor(
    readonly id: string,
    readonly sessionId: string,
    private readonly settings: SessionLinkSettings,
    private readonly onEnd: (link: SessionLink) => void,
  ) {}

  /** Resolves with the outcome of the session's hello (the first frames it writes). */
  helloOutcome(): Promise<HelloOutcome> {
    return new Promise((resolve) => (this.#hello = resolve))
  }

  get closed(): boolean {
    return this.#ended !== undefined
  }

  /** Why the session ended, once it has. */
  get ending(): { readonly code: CloseCode; readonly reason: string } | undefined {
    return this.#ended
  }

  get bufferedAmount(): number {
    return this.#unacked
  }

  get detached(): boolean {
    return this.#read === undefined
  }

  /** Sequence number of the last frame written. */
  get lastSeq(): number {
    return this.#nextSeq
  }

  whenDrained(): Promise<void> {
    if (this.#ended !== undefined || this.#unacked <= this.settings.highWaterMark) {
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  batch(write: () => void): void {
    this.#corked += 1
    try {
      write()
    } finally {
      this.#corked -= 1
      if (this.#corked === 0) this.#read?.wake()
    }
  }

  writeText(text: Buffer): void {
    if (this.#ended !== undefined) return
    if (this.#hello !== undefined) this.#watchHello(text)
    this.#push(text)
  }

  writeMessage(message: CommittedMessage): void {
    if (this.#ended !== undefined) return
    this.#push(message.encoded(sessionMessage))
  }

  close(code: CloseCode, reason: string): void {
    if (this.#ended !== undefined) return
    this.#ended = { code, reason }
    if (this.#hello !== undefined) {
      const error = this.#helloError ?? { code: reason as ErrorCode, message: reason }
      this.#hello({ kind: 'refused', ...error })
      this.#hello = undefined
    }
    for (const resolve of this.#drainWaiters.splice(0)) resolve()
    for (const resolve of this.#inboundWaiters.splice(0)) resolve()
    this.#read?.wake()
    this.onEnd(this)
  }

  pauseInbound(): void {
    this.#inboundPaused = true
  }

  resumeInbound(): void {
    this.#inboundPaused = false
    for (const resolve of this.#inboundWaiters.splice(0)) resolve()
  }

  /** Resolves once the connection takes frames again (a POST waits here: inbound backpressure). */
  inboundOpen(): Promise<void> {
    if (!this.#inboundPaused || this.#ended !== undefined) return Promise.resolve()
    return new Promise((resolve) => this.#inboundWaiters.push(resolve))
  }

  /** The client has every frame up to `seq`: they are dropped and delivery may go on. */
  acknowledge(seq: number): void {
    if (seq <= this.#acked) return
    this.#acked = Math.min(seq, this.#nextSeq)
    let dropped = 0
    while (
      dropped < this.#frames.length &&
      (this.#frames[dropped] as NumberedFrame).seq <= this.#acked
    ) {
      this.#unacked -= (this.#frames[dropped] as NumberedFrame).text.byteLength
      dropped += 1
    }
    this.#frames.splice(0, dropped)
    if (this.#unacked <= this.settings.highWaterMark) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve()
    }
  }

  /** Frames after `seq` still kept. */
  framesAfter(seq: number): readonly NumberedFrame[] {
    // Kept frames are numbered consecutively: the one after `seq` is found by arithmetic.
    const head = this.#frames[0]
    if (head === undefined) return []
    const first = Math.max(0, seq + 1 - head.seq)
    return first >= this.#frames.length ? [] : this.#frames.slice(first)
  }

  /**
   * Serves an SSE read from `after` (`GET …/events?mode=sse`): `: open` at once (so a client can
   * tell a proxy that buffers responses), then every frame after `after` as `id: <seq>` /
   * `data: <frame>`, keep-alives while idle; ends after `sseCloseAfterMs`, when a newer read takes
   * over, or once the session ended and its last frames were written.
   */
  async streamEvents(res: ServerResponse, after: number): Promise<void> {
    this.acknowledge(after)
    res.statusCode = 200
    res.setHeader('Content-Type', 'text/event-stream')
    res.setHeader('Cache-Control', 'no-cache, no-transform')
    res.setHeader('X-Accel-Buffering', 'no')
    res.flushHeaders()
    res.write(': open\n\n')
    let sent = after
    let finished = false
    let finish: () => void = () => {}
    const done = new Promise<void>((resolve) => (finish = resolve))
    const end = (): void => {
      if (finished) return
      finished = true
      clearInterval(keepAlive)
      clearTimeout(closeAfter)
      if (this.#read === read) this.#read = undefined
      res.end()
      finish()
    }
    // Writing can emit `drain` (and so call `pump`) from inside `uncork`: a re-entrant call only
    // asks for one more round instead of recursing, however many frames are waiting.
    let pumping = false
    let again = false
    const pump = (): void => {
      if (finished) return
      if (pumping) {
        again = true
        return
      }
      pumping = true
      try {
        do {
          again = false
          res.cork()
          try {
            for (const frame of this.framesAfter(sent)) {
              if (res.writableNeedDrain) break // the socket's drain wakes us again
              writeEvent(res, frame)
              sent = frame.seq
            }
          } finally {
            res.uncork()
          }
        } while (again && !finished && !res.writableNeedDrain)
      } finally {
        pumping = false
      }
      if (this.#ended !== undefined && sent >= this.#nextSeq) end()
    }
    const read: AttachedRead = { wake: pump, end }
    this.#attach(read)
    const keepAlive = setInterval(() => {
      if (!finished && !res.writableNeedDrain) res.write(': ka\n\n')
    }, this.settings.keepAliveMs)
    const closeAfter = setTimeout(end, this.settings.sseCloseAfterMs)
    keepAlive.unref()
    closeAfter.unref()
    res.on('drain', pump)
    res.once('close', end)
    pump()
    await done
    res.off('drain', pump)
    this.lastActivity = Date.now()
  }

  /**
   * Serves a long-poll from `after` (`GET …/events?mode=poll`): acknowledges what the client has,
   * answers `{frames, next}` as soon as frames after `after` exist (at most `maxPollBytes`), or
   * `{frames: [], next: after}` after the timeout. The frames are JSON values, not text.
   */
  async pollEvents(res: ServerResponse, after: number): Promise<void> {
    this.acknowledge(after)
    if (this.framesAfter(after).length === 0 && this.#ended === undefined) {
      await new Promise<void>((resolve) => {
        let settled = false
        const settle = (): void => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          res.off('close', settle)
          if (this.#read === read) this.#read = undefined
          resolve()
        }
        const read: AttachedRead = {
          wake: () => {
            if (this.#corked === 0) settle()
          },
          end: settle,
        }
        const timer = setTimeout(settle, this.settings.longPollTimeoutMs)
        timer.unref()
        res.once('close', settle)
        this.#attach(read)
      })
    }
    if (res.destroyed) return
    const frames: Buffer[] = []
    let bytes = 0
    let next = after
    for (const frame of this.framesAfter(after)) {
      if (frames.length > 0 && bytes + frame.text.byteLength > this.settings.maxPollBytes) break
      frames.push(frame.text)
      bytes += frame.text.byteLength
      next = frame.seq
    }
    const body = Buffer.concat([
      Buffer.from('{"frames":['),
      ...frames.flatMap((text, i) => (i === 0 ? [text] : [COMMA, text])),
      Buffer.from(`],"next":${next}}`),
    ])
    res.statusCode = 200
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Cache-Control', 'no-store')
    res.setHeader('Content-Length', body.byteLength)
    res.end(body)
    this.lastActivity = Date.now()
  }

  #attach(read: AttachedRead): void {
    const previous = this.#read
    this.#read = read
    this.lastActivity = Date.now()
    previous?.end()
  }

  #push(text: Buffer): void {
    this.#nextSeq += 1
    this.#frames.push({ seq: this.#nextSeq, text })
    this.#unacked += text.byteLength
    if (this.#corked === 0) this.#read?.wake()
  }

  /** Until the hello is answered: a `welcome` or an `error` frame decides its outcome. */
  #watchHello(text: Buffer): void {
    const frame = JSON.parse(text.toString()) as {
      t?: string
      code?: ErrorCode
      message?: string
      userId?: string
    }
    if (frame.t === 'welcome' && typeof frame.userId === 'string') {
      this.userId = frame.userId
      this.#hello?.({ kind: 'welcome', text, userId: frame.userId })
      this.#hello = undefined
    } else if (frame.t === 'error' && frame.code !== undefined) {
      this.#helloError = { code: frame.code, message: frame.message ?? frame.code }
    }
  }
}

const COMMA = Buffer.from(',')

const NEWLINE = 0x0a
const RETURN = 0x0d
const EVENT_END = Buffer.from('\n\n')

/**
 * One SSE event: its sequence number and the frame. Frame JSON never holds a raw line break but
 * between tokens (JSON text stored as it was appended may be pretty-printed): each line then gets
 * its own `data:` line, which the reader joins back.
 */
function writeEvent(res: ServerResponse, frame: NumberedFrame): void {
  const { text } = frame
  if (text.indexOf(NEWLINE) < 0 && text.indexOf(RETURN) < 0) {
    res.write(`id: ${frame.seq}\ndata: `)
    res.write(text)
    res.write(EVENT_END)
    return
  }
  res.write(`id: ${frame.seq}\ndata: ${text.toString().replace(LINE_BREAK, '\ndata: ')}\n\n`)
}
