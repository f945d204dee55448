import {
  type AuthFrame,
  type ClientFrame,
  CloseCode,
  ErrorCode,
  type HelloFrame,
  type PubFrame,
  SeqlineError,
  type ServerFrame,
  parseClientFrame,
} from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticator.js'
import type { Metrics } from '../observability/metrics.js'
import type { CommittedMessage } from '../engine/committed-message.js'
import type { Engine } from '../engine/engine.js'
import type { DeliveryEvent, Follower } from '../engine/follower.js'
import type { EngineSession, SessionEnd } from '../engine/session.js'
import type { ClientRegistry } from './client-registry.js'
import { eventFrameText } from './event-frame.js'
import type { FrameLink } from './frame-link.js'

/** Settings of a connection (a slice of the server's `connections` and `delivery`). */
export interface ConnectionSettings {
  readonly heartbeatMs: number
  readonly helloTimeoutMs: number
  readonly authGraceMs: number
  /** Unread bytes above which the connection is cut (SLOW_CONSUMER). */
  readonly maxBufferedBytes: number
  /** Frames queued for handling above which the connection stops being read. */
  readonly maxInboundFrames: number
  readonly highWaterMark: number
}

/** What every connection of a transport shares. */
export interface ConnectionContext {
  readonly engine: Engine
  /** The user of a token, or a refusal (UNAUTHENTICATED). */
  readonly authenticate: (token: string) => Promise<Principal>
  readonly registry: ClientRegistry
  readonly logger: Logger
  readonly metrics: Metrics
  readonly settings: ConnectionSettings
  readonly now: () => number
}

//
//   awaiting-hello ──hello──▶ greeting ──welcome──▶ open ◀──auth──┐
//        │                       │                    │           │
//        │ hello timeout         │ refused            │ token     │
//        ▼                       ▼                    ▼ expires   │
//      closed ◀──────────────── closed             expired ───────┘
//                                                     │ no auth within the grace period
//                                                     ▼
//                                                   closed (4401 TOKEN_EXPIRED)
//
type ConnectionState =
  | { readonly kind: 'awaiting-hello'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'greeting' }
  | { readonly kind: 'open'; readonly session: EngineSession; readonly expiry: Expiry }
  | {
      readonly kind: 'expired'
      readonly session: EngineSession
      readonly grace: NodeJS.Timeout
      readonly resumed: Promise<void>
      readonly resume: () => void
    }
  | { readonly kind: 'closed' }

/** The timer that fires when the session's token expires (none for tokens without expiry). */
type Expiry = NodeJS.Timeout | undefined

// setTimeout fires at once for delays above 2^31 − 1 ms: longer waits are taken in steps.
const MAX_TIMER_MS = 2_147_483_647

/**
 * One connection speaking the Seqline protocol (DESIGN §5) over any transport: it parses client
 * frames, asks its engine session, and writes server frames — and it is the engine's `Follower`
 * for its subscriptions. Frames are handled strictly in arrival order (each waits for the previous
 * one's admission, not for its commit), so a client's pipelined publishes commit in the order it
 * sent them.
 *
 * Every byte is bounded (G6): inbound frames queue up to `maxInboundFrames`, then the link stops
 * being read, and it is not read either while the peer leaves more than the high-water mark of
 * answers unread; message delivery pauses at the high-water mark; presence and signals are skipped
 * above it; and a peer whose unread bytes still pass `maxBufferedBytes` is cut (SLOW_CONSUMER).
 * Credentials are held to their lifetime (G8): a connection that has not said hello in time is
 * closed, and when the token expires the connection must present a fresh one (`auth`) within the
 * grace period or be closed with TOKEN_EXPIRED — meanwhile nothing is delivered or accepted.
 */
export class ProtocolConnection implements Follower {
  #state: ConnectionState
  #queue: Promise<void> = Promise.resolve()
  #pending = 0
  #readPaused = false
  #watchingDrain = false

  constructor(
    private readonly link: FrameLink,
    private readonly ctx: ConnectionContext,
    /** Called once the hello was answered (admission counts the connection as pending until). */
    private readonly onGreeted: () => void = () => {},
  ) {
    const timer = setTimeout(() => this.#helloTimedOut(), ctx.settings.helloTimeoutMs)
    timer.unref()
    this.#state = { kind: 'awaiting-hello', timer }
  }

  get id(): string {
    return this.link.id
  }

  /** The client id once greeted. */
  get clientId(): string | undefined {
    const state = this.#state
    return state.kind === 'open' || state.kind === 'expired' ? state.session.clientId : undefined
  }

  /** Nothing reads the link now: a newer connection of the client may take this one's place. */
  get detached(): boolean {
    return this.link.detached
  }

  /** Whether the connection completed its hello. */
  get greeted(): boolean {
    return this.#state.kind === 'open' || this.#state.kind === 'expired'
  }

  // ---------------------------------------------------------------------------------------------
  // Follower: what the engine delivers

  get closed(): boolean {
    return this.#state.kind === 'closed' || this.link.closed
  }

  get bufferedAmount(): number {
    // An expired connection receives nothing until it re-authenticates: its pumps wait.
    return this.#state.kind === 'expired' ? Number.POSITIVE_INFINITY : this.link.bufferedAmount
  }

  whenDrained(): Promise<void> {
    const state = this.#state
    if (state.kind === 'expired') return state.resumed
    return this.link.whenDrained()
  }

  batch(write: () => void): void {
    this.link.batch(write)
  }

  message(message: CommittedMessage): void {
    if (this.closed) return
    this.link.writeMessage(message)
    this.#checkBound()
  }

  event(event: DeliveryEvent): void {
    if (this.closed) return
    this.link.writeText(eventFrameText(event))
    this.#checkBound()
  }

  // ---------------------------------------------------------------------------------------------
  // The transport's side

  /** One inbound frame's text (`undefined` for a binary frame). */
  receive(text: string | undefined): void {
    if (this.#state.kind === 'closed') return
    this.#pending += 1
    this.#updateReading()
    this.#queue = this.#queue.then(async () => {
      try {
        await this.#receive(text)
      } finally {
        this.#pending -= 1
        this.#updateReading()
      }
    })
  }

  /** The link closed (either side): ends the session, releases the client's slot. */
  linkClosed(): void {
    const state = this.#state
    this.#state = { kind: 'closed' }
    this.#clearTimers(state)
    if (state.kind === 'open' || state.kind === 'expired') {
      state.session.close()
      this.ctx.registry.release(state.session.clientId, this)
    }
  }

  /** A newer connection of the same client took this one's place (`takeover`). */
  replace(): void {
    this.link.close(CloseCode.REPLACED, 'replaced by a newer connection')
  }

  /** The server shuts down: `goaway` with a jittered reconnect hint, then close. */
  goAway(retryAfterMs: number): void {
    this.#send({ t: 'goaway', retryAfterMs })
    this.link.close(CloseCode.GOING_AWAY, `retry=${retryAfterMs}`)
  }

  // ---------------------------------------------------------------------------------------------
  // Frames

  async #receive(text: string | undefined): Promise<void> {
    if (this.#state.kind === 'closed') return
    let frame: ClientFrame
    try {
      if (text === undefined) {
        throw new SeqlineError(ErrorCode.BAD_FRAME, 'binary frames are not accepted')
      }
      frame = parseClientFrame(text)
    } catch (err) {
      this.#sendError(err)
      return
    }
    try {
      await this.#handle(frame)
    } catch (err) {
      this.#sendError(err, 'stream' in frame ? frame.stream : undefined)
    }
  }

  async #handle(frame: ClientFrame): Promise<void> {
    const state = this.#state
    if (frame.t === 'hello') {
      if (state.kind !== 'awaiting-hello') {
        throw new SeqlineError(ErrorCode.ALREADY_GREETED, 'this connection already said hello')
      }
      return this.#hello(frame, state.timer)
    }
    if (frame.t === 'ping') return this.#send({ t: 'pong' })
    if (state.kind === 'expired') {
      if (frame.t === 'auth') return this.#auth(frame, state.session)
      if (frame.t === 'pub') return this.#nack(frame, expiredError())
      throw expiredError()
    }
    if (state.kind !== 'open') {
      throw new SeqlineError(ErrorCode.HELLO_REQUIRED, 'send hello first')
    }
    const session = state.session
    switch (frame.t) {
      case 'auth':
        return this.#auth(frame, session)
      case 'sub':
        return session.subscribe(frame.stream, frame.from)
      case 'unsub':
        return session.unsubscribe(frame.stream)
      case 'pub':
        return this.#publish(session, frame)
      case 'ack':
        return session.ack(frame.stream, frame.offset)
      case 'signal':
        await session.signal(frame.stream, frame.data)
        return
    }
  }

  async #hello(hello: HelloFrame, timer: NodeJS.Timeout): Promise<void> {
    clearTimeout(timer)
    this.#state = { kind: 'greeting' }
    const { engine, registry } = this.ctx
    let principal: Principal
    try {
      principal = await this.ctx.authenticate(hello.token)
    } catch (err) {
      this.#refuse(err)
      return
    }
    let clientId = hello.clientId
    let secret: string | undefined
    let replaced: 'unknown' | 'in-use' | undefined
    try {
      if (clientId !== undefined) {
        await engine.clients.verify(principal.userId, clientId, hello.secret ?? '')
        if (registry.claim(clientId, this, hello.takeover) === 'full') {
          if (hello.onInUse !== 'fresh') {
            throw new SeqlineError(
              ErrorCode.TOO_MANY_CONNECTIONS,
              'this client already has its maximum of live connections',
            )
          }
          replaced = 'in-use'
          clientId = undefined
        }
      }
    } catch (err) {
      if (!(err instanceof SeqlineError && err.code === ErrorCode.CLIENT_UNKNOWN)) {
        this.#refuse(err)
        return
      }
      // Garbage-collected or forgotten (DESIGN §9): a new identity; positions stay valid.
      replaced = 'unknown'
      clientId = undefined
    }
    if (clientId === undefined) {
      try {
        const created = await engine.clients.register(principal.userId)
        clientId = created.clientId
        secret = created.secret
        registry.claim(clientId, this, undefined)
      } catch (err) {
        this.#refuse(err)
        return
      }
    }
    if ((this.#state as ConnectionState).kind === 'closed' || this.link.closed) {
      // The link closed while we awaited the store.
      registry.release(clientId, this)
      return
    }
    const session = engine.sessions.open({
      connectionId: this.id,
      principal,
      clientId,
      follower: this,
      onEnd: (end) => this.#ended(end),
    })
    this.#state = { kind: 'open', session, expiry: this.#scheduleExpiry(principal) }
    this.onGreeted()
    this.#send({
      t: 'welcome',
      clientId,
      ...(secret === undefined ? {} : { secret }),
      connectionId: this.id,
      userId: principal.userId,
      heartbeatMs: this.ctx.settings.heartbeatMs,
      ...(replaced === undefined ? {} : { replaced }),
      ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
    })
    for (const entry of hello.resume ?? []) {
      try {
        await session.subscribe(entry.stream, { epoch: entry.epoch, offset: entry.offset })
      } catch (err) {
        this.#sendError(err, entry.stream)
      }
    }
  }

  /** A fresh token on the open connection (before or after the old one expired). */
  async #auth(frame: AuthFrame, session: EngineSession): Promise<void> {
    let principal: Principal
    try {
      principal = await this.ctx.authenticate(frame.token)
      session.reauthenticate(principal)
    } catch (err) {
      this.#refuse(err)
      return
    }
    const state = this.#state
    if (state.kind !== 'open' && state.kind !== 'expired') return
    this.#clearTimers(state)
    this.#state = { kind: 'open', session, expiry: this.#scheduleExpiry(principal) }
    if (state.kind === 'expired') state.resume()
    this.#send({
      t: 'authOk',
      ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
    })
  }

  async #publish(session: EngineSession, frame: PubFrame): Promise<void> {
    let admitted: Awaited<ReturnType<EngineSession['publish']>>
    try {
      admitted = await session.publish(frame)
    } catch (err) {
      this.#nack(frame, err)
      return
    }
    // Enqueued in frame order; the ack goes out whenever the commit lands.
    admitted.committed.then(
      (result) => {
        if (result.kind === 'appended') {
          this.#send({
            t: 'puback',
            stream: frame.stream,
            seq: frame.seq,
            offset: result.messages.at(-1)?.offset ?? result.head,
            epoch: result.epoch,
          })
        } else if (result.kind === 'duplicate') {
          this.#send({
            t: 'puback',
            stream: frame.stream,
            seq: frame.seq,
            offset: result.offset,
            epoch: result.epoch,
            duplicate: true,
          })
        } else {
          this.#send({
            t: 'nack',
            stream: frame.stream,
            seq: frame.seq,
            code: result.code,
            message: result.message,
            ...(result.expectedSeq === undefined ? {} : { expectedSeq: result.expectedSeq }),
            ...(result.producerEpoch === undefined ? {} : { producerEpoch: result.producerEpoch }),
          })
        }
      },
      (err: unknown) => this.#nack(frame, err),
    )
  }

  #nack(frame: PubFrame, err: unknown): void {
    const e = toSeqlineError(err, this.ctx.logger, this.id)
    this.#send({
      t: 'nack',
      stream: frame.stream,
      seq: frame.seq,
      code: e.code,
      message: e.message,
      ...(e.details ?? {}),
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Lifetime of credentials

  #scheduleExpiry(principal: Principal, at = principal.expiresAt): Expiry {
    if (at === undefined) return undefined
    const delay = at - this.ctx.now()
    const timer = setTimeout(
      () => (delay > MAX_TIMER_MS ? this.#rescheduleExpiry(principal) : this.#expired()),
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    )
    timer.unref()
    return timer
  }

  #rescheduleExpiry(principal: Principal): void {
    const state = this.#state
    if (state.kind === 'open' && state.session.principal === principal) {
      this.#state = { ...state, expiry: this.#scheduleExpiry(principal) }
    }
  }

  /** The token expired: tell the client, deliver and accept nothing until `auth`, then close. */
  #expired(): void {
    const state = this.#state
    if (state.kind !== 'open') return
    let resume = (): void => {}
    const resumed = new Promise<void>((resolve) => (resume = resolve))
    const grace = setTimeout(() => {
      if (this.#state.kind !== 'expired') return
      this.#send({ t: 'error', code: ErrorCode.TOKEN_EXPIRED, message: 'the token expired' })
      this.link.close(CloseCode.TOKEN_EXPIRED, ErrorCode.TOKEN_EXPIRED)
    }, this.ctx.settings.authGraceMs)
    grace.unref()
    this.#state = { kind: 'expired', session: state.session, grace, resumed, resume }
    this.#send({
      t: 'error',
      code: ErrorCode.TOKEN_EXPIRED,
      message: `the token expired: send auth with a fresh one within ${this.ctx.settings.authGraceMs} ms`,
    })
  }

  /** The engine ended the session (credentials revoked, user disconnected). */
  #ended(end: SessionEnd): void {
    this.#send({ t: 'error', code: end.code, message: end.message })
    if (end.final) this.link.close(CloseCode.REVOKED, end.code)
    else this.goAway(0)
  }

  #helloTimedOut(): void {
    if (this.#state.kind !== 'awaiting-hello') return
    this.#send({ t: 'error', code: ErrorCode.HELLO_TIMEOUT, message: 'no hello in time' })
    this.#state = { kind: 'closed' }
    this.link.close(CloseCode.HELLO_TIMEOUT, ErrorCode.HELLO_TIMEOUT)
  }

  #clearTimers(state: ConnectionState): void {
    if (state.kind === 'awaiting-hello') clearTimeout(state.timer)
    else if (state.kind === 'open' && state.expiry !== undefined) clearTimeout(state.expiry)
    else if (state.kind === 'expired') {
      clearTimeout(state.grace)
      state.resume()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing and bounds

  #send(frame: ServerFrame): void {
    if (this.link.closed) return
    this.link.writeText(Buffer.from(JSON.stringify(frame)))
    this.#checkBound()
  }

  #sendError(err: unknown, stream?: string): void {
    const e = toSeqlineError(err, this.ctx.logger, this.id)
    this.#send({
      t: 'error',
      code: e.code,
      message: e.message,
      ...(stream === undefined ? {} : { stream }),
    })
  }

  /** Refuses a hello or an `auth`: error frame, then a policy close. */
  #refuse(err: unknown): void {
    const e = toSeqlineError(err, this.ctx.logger, this.id)
    this.#sendError(e)
    const state = this.#state
    this.#state = { kind: 'closed' }
    this.#clearTimers(state)
    this.link.close(CloseCode.POLICY, e.code)
  }

  /**
   * Cuts a peer whose unread bytes passed the hard bound: it reads far too slowly (G6). Nothing
   * more is written; the close frame follows what is buffered, and a peer that has not read it
   * within 30 s is cut off, so its buffer is bounded either way.
   */
  #checkBound(): void {
    if (this.link.bufferedAmount <= this.ctx.settings.maxBufferedBytes) return
    if (this.#state.kind === 'closed') return
    this.ctx.logger.info({ connection: this.id }, 'slow consumer cut')
    this.ctx.metrics.slowConsumers.inc()
    const state = this.#state
    this.#state = { kind: 'closed' }
    this.#clearTimers(state)
    if (state.kind === 'open' || state.kind === 'expired') {
      state.session.close()
      this.ctx.registry.release(state.session.clientId, this)
    }
    this.link.close(CloseCode.SLOW_CONSUMER, ErrorCode.SLOW_CONSUMER, 30_000)
  }

  /**
   * Reads inbound frames only while few wait for handling and the peer takes its answers: a client
   * that floods frames and never reads costs a bounded queue, not memory (G6).
   */
  #updateReading(): void {
    const backlog = this.#pending > this.ctx.settings.maxInboundFrames
    const unread = this.link.bufferedAmount > this.ctx.settings.highWaterMark
    const pause = (backlog || unread) && !this.link.closed
    if (pause && !this.#readPaused) {
      this.#readPaused = true
      this.link.pauseInbound()
    } else if (!pause && this.#readPaused) {
      this.#readPaused = false
      this.link.resumeInbound()
    }
    if (pause && unread && !this.#watchingDrain) {
      this.#watchingDrain = true
      void this.link.whenDrained().then(() => {
        this.#watchingDrain = false
        this.#updateReading()
      })
    }
  }
}

function expiredError(): SeqlineError {
  return new SeqlineError(ErrorCode.TOKEN_EXPIRED, 'the token expired: send auth first')
}

/** Internal errors keep their details in the logs only (no stack traces to clients). */
function toSeqlineError(err: unknown, logger: Logger, connection: string): SeqlineError {
  if (err instanceof SeqlineError) return err
  logger.error({ err, connection }, 'frame handling failed')
  return new SeqlineError(ErrorCode.INTERNAL, 'internal error', { cause: err })
}
