import { CloseCode, ErrorCode, type ServerFrame } from '@seqline/protocol'
import type { CommittedMessage } from '../engine/committed-message.js'
import type { DeliveryEvent, Follower } from '../engine/follower.js'
import type { SessionEnd, SessionEnding } from '../engine/session.js'
import { toSeqlineError } from './client-error.js'
import type { ConnectionContext } from './connection-context.js'
import {
  ConnectionLifecycle,
  type ConnectionState,
  type LifecycleTimeouts,
} from './connection-lifecycle.js'
import type { ConnectionPort } from './connection-port.js'
import { eventFrameText } from './event-frame.js'
import { handleFrame } from './frame-handlers.js'
import type { FrameLink } from './frame-link.js'
import { InboundQueue } from './inbound-queue.js'

/**
 * One connection speaking the Seqline protocol (DESIGN §5) over any transport: it parses client
 * frames, asks its engine session, and writes server frames — and it is the engine's `Follower`
 * for its subscriptions. Its parts, one concept each:
 *
 * - `ConnectionLifecycle`: the states (awaiting-hello → greeting → open ⇄ expired → closed) and
 *   their timers;
 * - `InboundQueue`: frames handled strictly in arrival order (each waits for the previous one's
 *   admission, not for its commit), so a client's pipelined publishes commit in the order it sent
 *   them;
 * - `handleFrame` (frame-handlers.ts), `greet` (greeting.ts), `publish` (publish-handler.ts): what
 *   each frame does, through the narrow `ConnectionPort`;
 * - `LinkPort` (below): what is written to the link, the bounds on it, and how the connection
 *   ends — the port its frame handlers, its lifecycle's timers and its engine session reach;
 * - this class: the transport's side and the engine's (`Follower`).
 *
 * A room of thousands keeps one of these per member, so each is a handful of plain objects with
 * their methods on prototypes: no closure is made per connection.
 *
 * Every byte is bounded (G6): inbound frames queue up to `maxInboundFrames`, then the link stops
 * being read, and it is not read either while the peer leaves more than the high-water mark of
 * answers unread; message delivery pauses at the high-water mark; presence and signals are skipped
 * above it; and a peer whose unread bytes still pass `maxBufferedBytes` is cut (SLOW_CONSUMER).
 * Credentials are held to their lifetime (G8): a connection that has not said hello in time is
 * closed, and when the token expires the connection must present a fresh one (`auth`) within the
 * grace period or be closed with TOKEN_EXPIRED — meanwhile nothing is delivered or accepted.
 */
/** What a connection tells its admission (the node's connection gate) once greeted. */
export interface GreetedNotice {
  /** The hello was answered: the connection no longer counts as pending. */
  greeted(): void
}

export class ProtocolConnection implements Follower {
  readonly #port: LinkPort

  constructor(link: FrameLink, ctx: ConnectionContext, admitted?: GreetedNotice) {
    this.#port = new LinkPort(this, link, ctx, admitted)
  }

  get id(): string {
    return this.#port.link.id
  }

  /** The client id once greeted. */
  get clientId(): string | undefined {
    return this.#port.lifecycle.session?.clientId
  }

  /** Nothing reads the link now: a newer connection of the client may take this one's place. */
  get detached(): boolean {
    return this.#port.link.detached
  }

  /** Whether the connection completed its hello. */
  get greeted(): boolean {
    return this.#port.lifecycle.session !== undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Follower: what the engine delivers

  get closed(): boolean {
    return this.#port.lifecycle.state.kind === 'closed' || this.#port.link.closed
  }

  get bufferedAmount(): number {
    // An expired connection receives nothing until it re-authenticates: its pumps wait.
    return this.#port.lifecycle.state.kind === 'expired'
      ? Number.POSITIVE_INFINITY
      : this.#port.link.bufferedAmount
  }

  whenDrained(): Promise<void> {
    const state = this.#port.lifecycle.state
    if (state.kind === 'expired') return state.resumed
    return this.#port.link.whenDrained()
  }

  batch(write: () => void): void {
    this.#port.link.batch(write)
  }

  message(message: CommittedMessage): void {
    if (this.closed) return
    this.#port.link.writeMessage(message)
    this.#port.checkBound()
  }

  event(event: DeliveryEvent): void {
    if (this.closed) return
    this.#port.link.writeText(eventFrameText(event))
    this.#port.checkBound()
  }

  // ---------------------------------------------------------------------------------------------
  // The transport's side

  /** One inbound frame's text (`undefined` for a binary frame). */
  receive(text: string | undefined): void {
    if (this.#port.lifecycle.state.kind === 'closed') return
    this.#port.inbound.push(text)
  }

  /** The link closed (either side): ends the session, releases the client's slot. */
  linkClosed(): void {
    this.#port.endSession(this.#port.lifecycle.close())
  }

  /** A newer connection of the same client took this one's place (`takeover`). */
  replace(): void {
    this.#port.link.close(CloseCode.REPLACED, 'replaced by a newer connection')
  }

  /** The server shuts down: `goaway` with a jittered reconnect hint, then close. */
  goAway(retryAfterMs: number): void {
    this.#port.goAway(retryAfterMs)
  }
}

/**
 * The connection as its frame handlers, its lifecycle's timers and its engine session reach it:
 * what is written to the link, the bounds on it, and how the connection ends.
 */
class LinkPort implements ConnectionPort, LifecycleTimeouts, SessionEnding {
  readonly lifecycle: ConnectionLifecycle
  readonly inbound: InboundQueue

  constructor(
    readonly connection: ProtocolConnection,
    readonly link: FrameLink,
    readonly ctx: ConnectionContext,
    private readonly admitted: GreetedNotice | undefined,
  ) {
    this.lifecycle = new ConnectionLifecycle(ctx.settings, ctx.now, this)
    this.inbound = new InboundQueue(link, ctx.settings, this)
  }

  get linkClosed(): boolean {
    return this.link.closed
  }

  /** One inbound frame, in its turn (InboundQueue). */
  handle(text: string | undefined): Promise<void> {
    return handleFrame(text, this)
  }

  greeted(): void {
    this.admitted?.greeted()
  }

  send(frame: ServerFrame): void {
    if (this.link.closed) return
    this.link.writeText(Buffer.from(JSON.stringify(frame)))
    this.checkBound()
  }

  sendError(err: unknown, stream?: string): void {
    const e = toSeqlineError(err, this.ctx.logger, this.link.id)
    this.send({
      t: 'error',
      code: e.code,
      message: e.message,
      ...(stream === undefined ? {} : { stream }),
    })
  }

  /** Refuses a hello or an `auth`: error frame, then a policy close. */
  refuse(err: unknown): void {
    const e = toSeqlineError(err, this.ctx.logger, this.link.id)
    this.sendError(e)
    // A refused `auth` leaves an open session: end it now, the link's close will find none.
    this.endSession(this.lifecycle.close())
    this.link.close(CloseCode.POLICY, e.code)
  }

  /** The engine ended the session (credentials revoked, user disconnected). */
  ended(end: SessionEnd): void {
    this.send({ t: 'error', code: end.code, message: end.message })
    if (end.final) this.link.close(CloseCode.REVOKED, end.code)
    else this.goAway(0)
  }

  goAway(retryAfterMs: number): void {
    this.send({ t: 'goaway', retryAfterMs })
    this.link.close(CloseCode.GOING_AWAY, `retry=${retryAfterMs}`)
  }

  // The lifecycle's timers

  helloTimedOut(): void {
    this.send({ t: 'error', code: ErrorCode.HELLO_TIMEOUT, message: 'no hello in time' })
    this.lifecycle.close()
    this.link.close(CloseCode.HELLO_TIMEOUT, ErrorCode.HELLO_TIMEOUT)
  }

  /** The token expired: the client has the grace period to send `auth`. */
  tokenExpired(): void {
    this.send({
      t: 'error',
      code: ErrorCode.TOKEN_EXPIRED,
      message: `the token expired: send auth with a fresh one within ${this.ctx.settings.authGraceMs} ms`,
    })
  }

  graceEnded(): void {
    this.send({ t: 'error', code: ErrorCode.TOKEN_EXPIRED, message: 'the token expired' })
    this.link.close(CloseCode.TOKEN_EXPIRED, ErrorCode.TOKEN_EXPIRED)
  }

  /**
   * Cuts a peer whose unread bytes passed the hard bound: it reads far too slowly (G6). Nothing
   * more is written; the close frame follows what is buffered, and a peer that has not read it
   * within 30 s is cut off, so its buffer is bounded either way.
   */
  checkBound(): void {
    if (this.link.bufferedAmount <= this.ctx.settings.maxBufferedBytes) return
    if (this.lifecycle.state.kind === 'closed') return
    this.ctx.logger.info({ connection: this.link.id }, 'slow consumer cut')
    this.ctx.metrics.slowConsumers.inc()
    this.endSession(this.lifecycle.close())
    this.link.close(CloseCode.SLOW_CONSUMER, ErrorCode.SLOW_CONSUMER, 30_000)
  }

  /** Ends the session of the state the connection left, and releases its client's slot. */
  endSession(left: ConnectionState): void {
    if (left.kind === 'open' || left.kind === 'expired') {
      left.session.close()
      this.ctx.registry.release(left.session.clientId, this.connection)
    }
  }
}
