import {
  type ClientFrame,
  CloseCode,
  ErrorCode,
  type HelloFrame,
  type ServerFrame,
  parseServerFrame,
} from '@seqline/protocol'
import type { TimerHandle } from './clock.js'
import type { ReadModes, Refusal, SessionContext, SessionSettings } from './session-context.js'
import { SessionReader } from './session-reader.js'
import { SessionSender } from './session-sender.js'
import { ABNORMAL_CLOSURE, type TransportHandlers, type TransportLink } from './transport.js'

//
//   connect()             hello                   201 {sessionId, frames: [welcome]}
//   ────────▶ ┌────────┐ ───────▶ ┌──────────┐ ─────────────────────────────────────▶ ┌──────┐
//             │ hailed │          │ creating │                                       │ open │
//             └────────┘          └────┬─────┘                                       └──┬───┘
//                refusal (401, 403, 404, 429, 503…): its `error` frame (and `goaway` for │
//                Retry-After), then the link ends ─────────▶ closed ◀──── link ends ─────┘
//
// One link = one HTTP session (wire spec: docs/client.md, "HTTP sessions"). `open` runs a
// SessionReader (the event read) and a SessionSender (POSTs). The link ends when the session is
// gone (404 SESSION_UNKNOWN: the connection dials a new session and resumes from its positions),
// refused (401 / 403: after the matching `error` frame), or closed by the connection (then the
// session is deleted).

/** State of an {@link HttpSession} (diagram above). */
export type HttpSessionState =
  | { readonly kind: 'hailed' }
  | { readonly kind: 'creating' }
  | {
      readonly kind: 'open'
      readonly path: string
      readonly reader: SessionReader
      readonly sender: SessionSender
    }
  | { readonly kind: 'closed' }

/** One HTTP session, as a transport link. */
export class HttpSession implements TransportLink {
  readonly #settings: SessionSettings
  readonly #modes: ReadModes
  readonly #handlers: TransportHandlers
  readonly #abort = new AbortController()
  #state: HttpSessionState = { kind: 'hailed' }
  #token = ''
  /** Bytes read over SSE since the last `received`, and the timer that sends it. */
  #unacked = 0
  #ackTimer: TimerHandle | undefined

  constructor(settings: SessionSettings, modes: ReadModes, handlers: TransportHandlers) {
    this.#settings = settings
    this.#modes = modes
    this.#handlers = handlers
    // Like a socket's open event: never synchronously inside connect().
    queueMicrotask(() => {
      if (this.#state.kind === 'hailed') handlers.onOpen()
    })
  }

  get state(): HttpSessionState {
    return this.#state
  }

  send(frame: ClientFrame): void {
    const state = this.#state
    if (frame.t === 'hello') {
      if (state.kind === 'hailed') void this.#create(frame)
      return
    }
    if (frame.t === 'auth') {
      // Every request from now on carries the fresh token — the POST with this very frame too,
      // which an expired one would get refused.
      this.#token = frame.token
      if (state.kind === 'open') {
        state.sender.send(frame)
        state.reader.tokenChanged()
        state.sender.tokenChanged()
      }
      return
    }
    // Before `welcome` the connection sends nothing but `hello`; what is sent on a link that is
    // not open is lost on purpose, as on a WebSocket (everything that matters is re-sent).
    if (state.kind === 'open') state.sender.send(frame)
  }

  close(): void {
    if (this.#state.kind === 'closed') return
    this.#end(true)
  }

  async #create(hello: HelloFrame): Promise<void> {
    this.#state = { kind: 'creating' }
    this.#token = hello.token
    const { t: _t, token: _token, ...body } = hello
    let res: Response
    try {
      res = await this.#request('/v1/sessions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    } catch (error) {
      this.#finish(ABNORMAL_CLOSURE, 'session request failed', error)
      return
    }
    if (this.#state.kind !== 'creating') return
    if (res.status !== 201) {
      const { code, message } = await errorOf(res)
      const retryAfterMs = retryAfter(res)
      // A refused hello, told as over WebSocket: its `error` frame, then the link ends.
      if (retryAfterMs !== undefined) this.#emit({ t: 'goaway', retryAfterMs })
      this.#emit({ t: 'error', code, message })
      this.#finish(CloseCode.POLICY, code)
      return
    }
    let opened: { sessionId?: unknown; frames?: unknown }
    try {
      opened = (await res.json()) as typeof opened
    } catch (error) {
      this.#finish(ABNORMAL_CLOSURE, 'malformed session answer', error)
      return
    }
    if (typeof opened.sessionId !== 'string' || !Array.isArray(opened.frames)) {
      this.#finish(ABNORMAL_CLOSURE, 'malformed session answer')
      return
    }
    const path = `/v1/sessions/${encodeURIComponent(opened.sessionId)}`
    // Closed while the answer was on its way: the session would wait for its idle timeout.
    if (this.#state.kind !== 'creating') return this.#delete(path)
    const ctx = this.#context(path)
    const reader = new SessionReader(ctx, this.#modes)
    const sender = new SessionSender(ctx)
    this.#state = { kind: 'open', path, reader, sender }
    for (const frame of opened.frames) {
      let parsed: ServerFrame
      try {
        parsed = parseServerFrame(JSON.stringify(frame))
      } catch {
        continue
      }
      this.#emit(parsed)
    }
    if (this.#state.kind === 'open') reader.start()
  }

  #context(path: string): SessionContext {
    return {
      settings: this.#settings,
      path,
      lastSeq: 0,
      acked: 0,
      request: (p, init) => this.#request(p, init),
      emit: (frame) => this.#emit(frame),
      refused: (res) => this.#refused(res),
      finish: (code, reason, error) => this.#finish(code, reason, error),
      received: (bytes) => this.#received(bytes),
    }
  }

  /** Frames arrived over SSE: `received` within `ackIntervalMs`, at once past `ackBytes`. */
  #received(bytes: number): void {
    const { clock, ackBytes, ackIntervalMs } = this.#settings
    this.#unacked += bytes
    if (this.#unacked >= ackBytes) this.#ack()
    else this.#ackTimer ??= clock.setTimeout(() => this.#ack(), ackIntervalMs)
  }

  #ack(): void {
    if (this.#ackTimer !== undefined) this.#settings.clock.clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    this.#unacked = 0
    if (this.#state.kind === 'open') this.#state.sender.ack()
  }

  #emit(frame: ServerFrame): void {
    if (this.#state.kind !== 'closed') this.#handlers.onFrame(frame)
  }

  /** Reads a refused answer of the open session (see {@link Refusal}). */
  async #refused(res: Response): Promise<Refusal> {
    const status = res.status
    const { code, message } = await errorOf(res)
    if (this.#state.kind === 'closed') return { kind: 'ended' }
    if (status === 404) {
      // Expired, deleted, or on a server that restarted: a new session resumes from positions.
      this.#finish(ABNORMAL_CLOSURE, ErrorCode.SESSION_UNKNOWN)
      return { kind: 'ended' }
    }
    if (status === 401 && code === ErrorCode.TOKEN_EXPIRED) {
      // The client fetches a fresh token and sends `auth`; this request then goes again.
      this.#emit({ t: 'error', code, message })
      return { kind: 'token' }
    }
    if (status === 400 || status === 401 || status === 403) {
      this.#emit({ t: 'error', code, message })
      this.#finish(status === 400 ? CloseCode.RECONNECT : CloseCode.POLICY, code)
      return { kind: 'ended' }
    }
    const delayMs = retryAfter(res)
    return delayMs === undefined ? { kind: 'retry' } : { kind: 'retry', delayMs }
  }

  #request(path: string, init: RequestInit = {}): Promise<Response> {
    return this.#settings.fetch(`${this.#settings.base}${path}`, {
      ...init,
      cache: 'no-store',
      // The reader passes its own signal and aborts it when the session ends.
      signal: init.signal ?? this.#abort.signal,
      headers: {
        ...(init.headers as Record<string, string>),
        authorization: `Bearer ${this.#token}`,
      },
    })
  }

  /** The link ends on its own: tell the connection. */
  #finish(code: number, reason: string, error?: unknown): void {
    if (this.#state.kind === 'closed') return
    this.#end(reason !== ErrorCode.SESSION_UNKNOWN)
    this.#handlers.onClose(error === undefined ? { code, reason } : { code, reason, error })
  }

  #end(deleteSession: boolean): void {
    const state = this.#state
    this.#state = { kind: 'closed' }
    if (this.#ackTimer !== undefined) this.#settings.clock.clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    this.#abort.abort()
    if (state.kind !== 'open') return
    state.reader.stop()
    state.sender.stop()
    if (deleteSession) this.#delete(state.path)
  }

  /** Best effort: an abandoned session also ends by itself after the server's idle time. */
  #delete(path: string): void {
    this.#settings
      .fetch(`${this.#settings.base}${path}`, {
        method: 'DELETE',
        keepalive: true,
        headers: { authorization: `Bearer ${this.#token}` },
      })
      .then(
        (res) => res.body?.cancel(),
        () => {},
      )
      .catch(() => {})
  }
}

/** `{error: {code, message}}` of a refused request, or what the status says. */
async function errorOf(res: Response): Promise<{ code: ErrorCode; message: string }> {
  const body = (await res.json().catch(() => ({}))) as {
    error?: { code?: unknown; message?: unknown }
  }
  const code = body.error?.code
  const message = body.error?.message
  return {
    code:
      typeof code === 'string' && code in ErrorCode
        ? (code as ErrorCode)
        : (statusCodes[res.status] ?? ErrorCode.INTERNAL),
    message: typeof message === 'string' ? message : `HTTP ${res.status}`,
  }
}

const statusCodes: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.BAD_FRAME,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.SESSION_UNKNOWN,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.OVERLOADED,
}

/** `Retry-After` in seconds, as milliseconds. */
function retryAfter(res: Response): number | undefined {
  const header = res.headers.get('retry-after')
  if (header === null) return undefined
  const seconds = Number(header)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}
