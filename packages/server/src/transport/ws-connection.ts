import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import {
  CloseCode,
  type ClientFrame,
  ErrorCode,
  type HelloFrame,
  type PubFrame,
  SeqlineError,
  type ServerFrame,
  type SubFrame,
  parseClientFrame,
} from '@seqline/protocol'
import type { Logger } from 'pino'
import type { WebSocket } from 'ws'
import { type Authenticate, type Principal, toPrincipal } from '../auth/authenticator.js'
import type { Engine } from '../engine/engine.js'
import { encodeFrame } from '../engine/message-frame.js'
import type { Session, Subscription } from '../engine/subscription.js'
import { JSON_CONTENT_TYPE } from '../store/store.js'
import type { ClientRegistry } from './client-registry.js'
import { WsSink } from './ws-sink.js'

export interface WsConnectionContext {
  readonly engine: Engine
  readonly authenticate: Authenticate
  readonly registry: ClientRegistry
  readonly logger: Logger
  readonly heartbeatMs: number
}

/** Connection lifecycle: waiting for `hello`, greeted (a session exists), or closed. */
type ConnectionState =
  | { readonly kind: 'awaiting-hello' }
  | { readonly kind: 'greeting' }
  | { readonly kind: 'open'; readonly session: Session; readonly disconnect: () => void }
  | { readonly kind: 'closed' }

/**
 * One WebSocket connection. It only parses and frames: every decision is the engine's. Frames are
 * handled strictly in arrival order (each waits for the previous one's admission, not for its
 * commit), so a client's pipelined publishes commit in the order it sent them.
 */
export class WsConnection {
  readonly id = `k_${randomBytes(9).toString('base64url')}`
  readonly sink: WsSink
  /** Set by the heartbeat: false once a ping went unanswered. */
  alive = true
  #state: ConnectionState = { kind: 'awaiting-hello' }
  #queue: Promise<void> = Promise.resolve()
  readonly #subscriptions = new Map<string, Subscription>()
  readonly #publishAllowed = new Map<string, Promise<void>>()

  constructor(
    readonly socket: WebSocket,
    stream: Duplex,
    private readonly ctx: WsConnectionContext,
  ) {
    this.sink = new WsSink(this.id, socket, stream)
    socket.on('message', (data, isBinary) => {
      this.alive = true
      const text = isBinary ? undefined : Array.isArray(data) ? Buffer.concat(data) : data
      this.#queue = this.#queue.then(() => this.#receive(text?.toString()))
    })
    socket.on('pong', () => {
      this.alive = true
    })
    socket.on('close', () => this.#closed())
    socket.on('error', (err) => ctx.logger.debug({ err, connection: this.id }, 'socket error'))
  }

  get clientId(): string | undefined {
    return this.#state.kind === 'open' ? this.#state.session.clientId : undefined
  }

  /** Closes this connection because a newer connection of the same client took its place. */
  replace(): void {
    this.socket.close(CloseCode.REPLACED, 'replaced by a newer connection')
  }

  send(frame: ServerFrame): void {
    this.sink.send(encodeFrame(frame))
  }

  async #receive(text: string | undefined): Promise<void> {
    if (this.#state.kind === 'closed') return
    let frame: ClientFrame
    try {
      if (text === undefined)
        throw new SeqlineError(ErrorCode.BAD_FRAME, 'binary frames are not accepted')
      frame = parseClientFrame(text)
    } catch (err) {
      this.#sendError(err)
      return
    }
    try {
      await this.#handle(frame)
    } catch (err) {
      const stream = 'stream' in frame ? frame.stream : undefined
      this.#sendError(err, stream)
    }
  }

  async #handle(frame: ClientFrame): Promise<void> {
    const state = this.#state
    if (frame.t === 'hello') {
      if (state.kind !== 'awaiting-hello') {
        throw new SeqlineError(ErrorCode.ALREADY_GREETED, 'this connection already said hello')
      }
      return this.#hello(frame)
    }
    if (frame.t === 'ping') return this.send({ t: 'pong' })
    if (state.kind !== 'open') {
      throw new SeqlineError(ErrorCode.HELLO_REQUIRED, 'send hello first')
    }
    const session = state.session
    switch (frame.t) {
      case 'sub':
        return this.#subscribe(session, frame)
      case 'unsub': {
        const subscription = this.#subscriptions.get(frame.stream)
        if (subscription === undefined) {
          throw new SeqlineError(ErrorCode.NOT_SUBSCRIBED, `not subscribed to ${frame.stream}`)
        }
        this.#subscriptions.delete(frame.stream)
        this.ctx.engine.unsubscribe(subscription)
        return
      }
      case 'pub':
        return this.#publish(session, frame)
      case 'ack':
        return this.ctx.engine.ack(session.userId, session.clientId, frame.stream, frame.offset, {
          claims: session.claims ?? {},
        })
      case 'signal': {
        this.#checkSize(frame.data)
        await this.ctx.engine.signal(session, frame.stream, frame.data)
        return
      }
    }
  }

  async #hello(hello: HelloFrame): Promise<void> {
    this.#state = { kind: 'greeting' }
    const { engine, registry } = this.ctx
    let principal: Principal
    try {
      principal = toPrincipal(await this.ctx.authenticate(hello.token))
    } catch (err) {
      this.#refuse(
        err instanceof SeqlineError
          ? err
          : new SeqlineError(ErrorCode.UNAUTHENTICATED, 'invalid credentials'),
      )
      return
    }
    const { userId, claims } = principal
    let clientId = hello.clientId
    let secret: string | undefined
    let replaced: 'unknown' | 'in-use' | undefined
    try {
      if (clientId !== undefined) {
        await engine.verifyClient(userId, clientId, hello.secret ?? '')
        const claim = registry.claim(clientId, this, hello.takeover)
        if (claim === 'full') {
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
      // Garbage-collected (DESIGN §9): give it a new identity; positions stay valid.
      replaced = 'unknown'
      clientId = undefined
    }
    if (clientId === undefined) {
      try {
        const created = await engine.registerClient(userId)
        clientId = created.clientId
        secret = created.secret
        registry.claim(clientId, this, undefined)
      } catch (err) {
        this.#refuse(err)
        return
      }
    }
    if (this.socket.readyState !== this.socket.OPEN) {
      // The socket closed while we awaited the store.
      registry.release(clientId, this)
      return
    }
    const session: Session = { connectionId: this.id, userId, clientId, sink: this.sink, claims }
    this.#state = { kind: 'open', session, disconnect: engine.clientConnected(clientId) }
    this.send({
      t: 'welcome',
      clientId,
      ...(secret === undefined ? {} : { secret }),
      connectionId: this.id,
      userId,
      heartbeatMs: this.ctx.heartbeatMs,
      ...(replaced === undefined ? {} : { replaced }),
    })
    for (const entry of hello.resume ?? []) {
      try {
        await this.#subscribe(session, {
          t: 'sub',
          stream: entry.stream,
          from: { epoch: entry.epoch, offset: entry.offset },
        })
      } catch (err) {
        this.#sendError(err, entry.stream)
      }
    }
  }

  async #subscribe(session: Session, frame: SubFrame): Promise<void> {
    const existing = this.#subscriptions.get(frame.stream)
    if (
      existing === undefined &&
      this.#subscriptions.size >= this.ctx.engine.limits.maxStreamsPerConnection
    ) {
      throw new SeqlineError(
        ErrorCode.TOO_MANY_STREAMS,
        `a connection may follow at most ${this.ctx.engine.limits.maxStreamsPerConnection} streams`,
      )
    }
    // A second sub for the same stream restarts it from the new position (the client's catch-up
    // after a gap): the old pump stops before the new one starts, so nothing is sent twice.
    if (existing !== undefined) {
      this.#subscriptions.delete(frame.stream)
      this.ctx.engine.unsubscribe(existing)
    }
    const subscription = await this.ctx.engine.subscribe(session, frame.stream, frame.from)
    if (this.#state.kind === 'closed') {
      this.ctx.engine.unsubscribe(subscription)
      return
    }
    this.#subscriptions.set(frame.stream, subscription)
  }

  async #publish(session: Session, frame: PubFrame): Promise<void> {
    const { engine } = this.ctx
    const nack = (err: unknown): void => {
      const e = toSeqlineError(err)
      this.send({
        t: 'nack',
        stream: frame.stream,
        seq: frame.seq,
        code: e.code,
        message: e.message,
        ...(e.details ?? {}),
      })
    }
    let payload: Buffer
    try {
      payload = this.#checkSize(frame.data)
      let allowed = this.#publishAllowed.get(frame.stream)
      if (allowed === undefined) {
        allowed = engine.authorize(session.userId, frame.stream, 'publish', {
          claims: session.claims ?? {},
        })
        this.#publishAllowed.set(frame.stream, allowed)
        // An unavailable authorization backend is no answer: ask again on the next publish.
        const asked = allowed
        asked.catch((err: unknown) => {
          const transient =
            err instanceof SeqlineError && err.code === ErrorCode.BACKEND_UNAVAILABLE
          if (transient && this.#publishAllowed.get(frame.stream) === asked) {
            this.#publishAllowed.delete(frame.stream)
          }
        })
      }
      await allowed
      if (!engine.takePublishToken(session.clientId)) {
        throw new SeqlineError(ErrorCode.RATE_LIMITED, 'publish rate limit exceeded; retry later')
      }
    } catch (err) {
      nack(err)
      return
    }
    // Enqueued synchronously here, in frame order; the ack is sent whenever the commit lands.
    engine
      .append({
        stream: frame.stream,
        payloads: [payload],
        from: session.userId,
        producer: { id: session.clientId, epoch: frame.epoch, seq: frame.seq },
        contentType: JSON_CONTENT_TYPE,
        createIfMissing: { contentType: JSON_CONTENT_TYPE },
      })
      .then((result) => {
        if (result.kind === 'appended') {
          const last = result.messages.at(-1)
          this.send({
            t: 'puback',
            stream: frame.stream,
            seq: frame.seq,
            offset: last?.offset ?? result.head,
            epoch: result.epoch,
          })
        } else if (result.kind === 'duplicate') {
          this.send({
            t: 'puback',
            stream: frame.stream,
            seq: frame.seq,
            offset: result.offset,
            epoch: result.epoch,
            duplicate: true,
          })
        } else {
          this.send({
            t: 'nack',
            stream: frame.stream,
            seq: frame.seq,
            code: result.code,
            message: result.message,
            ...(result.expectedSeq === undefined ? {} : { expectedSeq: result.expectedSeq }),
            ...(result.producerEpoch === undefined ? {} : { producerEpoch: result.producerEpoch }),
          })
        }
      }, nack)
  }

  /** Serialises a payload and checks it against the size limit. */
  #checkSize(data: unknown): Buffer {
    const text = JSON.stringify(data)
    if (text === undefined) throw new SeqlineError(ErrorCode.INVALID_FRAME, 'data must be JSON')
    const payload = Buffer.from(text)
    const limit = this.ctx.engine.limits.maxPayloadBytes
    if (payload.byteLength > limit) {
      throw new SeqlineError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `payload is ${payload.byteLength} bytes; the limit is ${limit}`,
      )
    }
    return payload
  }

  #sendError(err: unknown, stream?: string): void {
    const e = toSeqlineError(err)
    if (e.code === ErrorCode.INTERNAL) {
      this.ctx.logger.error({ err, connection: this.id }, 'frame handling failed')
    }
    this.send({
      t: 'error',
      code: e.code,
      message: e.message,
      ...(stream === undefined ? {} : { stream }),
    })
  }

  /** Refuses the hello: error frame, then a policy close. */
  #refuse(err: unknown): void {
    this.#sendError(err)
    this.#state = { kind: 'closed' }
    this.socket.close(CloseCode.POLICY, toSeqlineError(err).code)
  }

  #closed(): void {
    const state = this.#state
    this.#state = { kind: 'closed' }
    for (const subscription of this.#subscriptions.values()) {
      this.ctx.engine.unsubscribe(subscription)
    }
    this.#subscriptions.clear()
    if (state.kind === 'open') {
      state.disconnect()
      this.ctx.registry.release(state.session.clientId, this)
    }
  }
}

/** Internal errors keep their details in the logs only (no stack traces to clients). */
function toSeqlineError(err: unknown): SeqlineError {
  if (err instanceof SeqlineError) return err
  return new SeqlineError(ErrorCode.INTERNAL, 'internal error', { cause: err })
}
