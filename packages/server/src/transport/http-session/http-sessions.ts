import { randomBytes } from 'node:crypto'
import {
  CloseCode,
  ErrorCode,
  SeqlineError,
  httpStatusOf,
  parseClientFrame,
} from '@seqline/protocol'
import type { Logger } from 'pino'
import type { AdmittedConnection, ConnectionGate } from '../../connection/connection-gate.js'
import type { ConnectionContext } from '../../connection/connection-context.js'
import { ProtocolConnection } from '../../connection/protocol-connection.js'
import { readBearerToken } from '../../http/bearer-token.js'
import { sendJsonError } from '../../http/json-error.js'
import { readJsonBody } from '../../http/read-json-body.js'
import type { Route, RouteContext } from '../../http/route.js'
import type { Metrics } from '../../observability/metrics.js'
import { SessionLink, type SessionLinkSettings } from './session-link.js'

/** Settings of the HTTP sessions. */
export interface HttpSessionSettings extends SessionLinkSettings {
  /** A session no request touched for this long is over (its client is gone). */
  readonly idleMs: number
  /** Largest request body (a hello with its resume list, a batch of frames). */
  readonly maxBodyBytes: number
  /** Most frames in one POST. */
  readonly maxFramesPerBatch: number
}

interface Session {
  readonly link: SessionLink
  readonly connection: ProtocolConnection
  readonly admitted: AdmittedConnection
  lastBatch: number
  /** When the session ended; its last frames stay readable a little longer. */
  endedAt: number | undefined
}

/** How long the last frames of an ended session (an error, a goaway) can still be read. */
const ENDED_READABLE_MS = 30_000

/**
 * The multiplexed HTTP transport (docs/protocol.md, "HTTP sessions"): one session carries the
 * WebSocket protocol — the same frames, the same `ProtocolConnection` — for every stream of a
 * client over at most two requests at a time, one event read (SSE, or long-poll behind proxies
 * that buffer responses) and one POST of client frames. Sessions count as connections for the
 * node's admission, the client's connection limit and presence.
 */
export class HttpSessions {
  readonly #sessions = new Map<string, Session>()
  readonly #sweeper: NodeJS.Timeout
  #closing = false

  constructor(
    private readonly context: ConnectionContext,
    private readonly gate: ConnectionGate,
    private readonly settings: HttpSessionSettings,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1_000, settings.idleMs / 4))
    this.#sweeper.unref()
  }

  get count(): number {
    return this.#sessions.size
  }

  /** The session routes, for the HTTP pipeline. */
  routes(): Route[] {
    return [
      {
        methods: ['POST'],
        path: '/v1/sessions',
        auth: 'user',
        cors: true,
        handle: (ctx) => this.#open(ctx),
      },
      {
        methods: ['GET'],
        path: '/v1/sessions/:id/events',
        auth: 'user',
        cors: true,
        handle: (ctx) => this.#events(ctx),
      },
      {
        methods: ['POST'],
        path: '/v1/sessions/:id/frames',
        auth: 'user',
        cors: true,
        handle: (ctx) => this.#frames(ctx),
      },
      {
        methods: ['DELETE'],
        path: '/v1/sessions/:id',
        auth: 'user',
        cors: true,
        handle: async (ctx) => {
          const session = this.#sessionOf(ctx)
          this.#remove(session)
          ctx.res.statusCode = 204
          ctx.res.end()
        },
      },
    ]
  }

  /** Shutdown: every session gets `goaway` with a jittered hint (readable by its client). */
  close(retryAfterMs: { readonly min: number; readonly max: number }): void {
    this.#closing = true
    for (const session of this.#sessions.values()) {
      if (session.endedAt !== undefined) continue
      const delay = Math.round(
        retryAfterMs.min + Math.random() * (retryAfterMs.max - retryAfterMs.min),
      )
      session.connection.goAway(delay)
    }
    clearInterval(this.#sweeper)
  }

  /** `POST /v1/sessions`: the hello, answered 201 `{sessionId, frames: [welcome]}` or refused. */
  async #open(ctx: RouteContext): Promise<void> {
    const { req, res } = ctx
    if (this.#closing)
      throw new SeqlineError(ErrorCode.SHUTTING_DOWN, 'The server is shutting down')
    const body = await readJsonBody(req, { limitBytes: this.settings.maxBodyBytes })
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SeqlineError(ErrorCode.BAD_FRAME, 'Expected the hello as a JSON object')
    }
    const hello = JSON.stringify({ ...body, t: 'hello', token: readBearerToken(req) ?? '' })
    // Validated here, so that a bad hello is a 400 rather than a session that never opens.
    parseClientFrame(hello)
    let admitted: AdmittedConnection
    try {
      admitted = this.gate.admit(req.socket.remoteAddress ?? 'unknown')
    } catch (err) {
      if (err instanceof SeqlineError && err.code === ErrorCode.OVERLOADED) {
        res.setHeader('Retry-After', this.gate.retryAfterSeconds())
      }
      throw err
    }
    const sessionId = randomBytes(18).toString('base64url')
    const link = new SessionLink(
      `k_${randomBytes(9).toString('base64url')}`,
      sessionId,
      this.settings,
      (ended) => this.#ended(ended),
    )
    const connection = new ProtocolConnection(link, this.context, admitted)
    const session: Session = { link, connection, admitted, lastBatch: 0, endedAt: undefined }
    this.#sessions.set(sessionId, session)
    this.metrics.connections.inc()
    const outcome = link.helloOutcome()
    connection.receive(hello)
    const answer = await outcome
    if (answer.kind === 'refused') {
      this.#remove(session)
      const error = new SeqlineError(
        answer.code in httpStatusOf ? answer.code : ErrorCode.INTERNAL,
        answer.message,
      )
      sendJsonError(res, error)
      return
    }
    res.setHeader('Cache-Control', 'no-store')
    res.statusCode = 201
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.end(`{"sessionId":${JSON.stringify(sessionId)},"frames":[${answer.text.toString()}]}`)
  }

  /** `GET /v1/sessions/:id/events?after=<seq>&mode=sse|poll`. */
  async #events(ctx: RouteContext): Promise<void> {
    const session = this.#sessionOf(ctx)
    const after = readSeq(ctx.query.get('after'))
    const mode = ctx.query.get('mode') ?? 'sse'
    if (mode !== 'sse' && mode !== 'poll') {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'mode must be sse or poll')
    }
    if (after > session.link.lastSeq) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'after is beyond the last frame of the session')
    }
    if (session.endedAt !== undefined && session.link.framesAfter(after).length === 0) {
      // Ended and fully read: the client dials a new session and resumes from its positions.
      this.#remove(session)
      throw new SeqlineError(ErrorCode.SESSION_UNKNOWN, 'The session ended')
    }
    if (mode === 'sse') await session.link.streamEvents(ctx.res, after)
    else await session.link.pollEvents(ctx.res, after)
  }

  /** `POST /v1/sessions/:id/frames` `{batch, received?, frames}`, answered 204. */
  async #frames(ctx: RouteContext): Promise<void> {
    const session = this.#sessionOf(ctx)
    const body = await readJsonBody(ctx.req, { limitBytes: this.settings.maxBodyBytes })
    const { batch, received, frames } = parseBatch(body, this.settings.maxFramesPerBatch)
    session.link.lastActivity = Date.now()
    if (received !== undefined) session.link.acknowledge(Math.min(received, session.link.lastSeq))
    if (session.endedAt !== undefined) {
      throw new SeqlineError(ErrorCode.SESSION_UNKNOWN, 'The session ended')
    }
    // A retried POST whose answer was lost: already handled, answered again, not run again.
    if (batch > session.lastBatch) {
      // Inbound backpressure: while the connection is not reading, this POST waits.
      await session.link.inboundOpen()
      session.lastBatch = batch
      for (const frame of frames) session.connection.receive(JSON.stringify(frame))
    }
    ctx.res.statusCode = 204
    ctx.res.end()
  }

  /** The session of the request's `:id`, which must belong to the request's user. */
  #sessionOf(ctx: RouteContext): Session {
    const session = this.#sessions.get(ctx.params['id'] as string)
    if (session === undefined) {
      throw new SeqlineError(ErrorCode.SESSION_UNKNOWN, 'No such session (expired or closed)')
    }
    if (session.link.userId !== ctx.principal.userId) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'This session belongs to another user')
    }
    session.link.lastActivity = Date.now()
    return session
  }

  /** The connection ended the link (refusal, revocation, token expiry, goaway, slow consumer). */
  #ended(link: SessionLink): void {
    const session = this.#sessions.get(link.sessionId)
    if (session === undefined || session.endedAt !== undefined) return
    session.endedAt = Date.now()
    session.connection.linkClosed()
    session.admitted.release()
    this.metrics.connections.dec()
  }

  #remove(session: Session): void {
    if (this.#sessions.get(session.link.sessionId) !== session) return
    this.#sessions.delete(session.link.sessionId)
    if (session.endedAt === undefined) {
      session.endedAt = Date.now()
      session.link.close(CloseCode.NORMAL, 'closed')
      session.connection.linkClosed()
      session.admitted.release()
      this.metrics.connections.dec()
    }
  }

  /** Ends sessions whose client went silent and forgets ended ones once read or stale. */
  #sweep(): void {
    const now = Date.now()
    for (const session of [...this.#sessions.values()]) {
      if (session.endedAt !== undefined) {
        if (now - session.endedAt > ENDED_READABLE_MS) this.#remove(session)
      } else if (now - session.link.lastActivity > this.settings.idleMs) {
        this.logger.debug({ connection: session.link.id }, 'idle HTTP session ended')
        this.#remove(session)
      }
    }
  }
}

function readSeq(value: string | null): number {
  if (value === null || value === '') return 0
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n)) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'after must be a non-negative integer')
  }
  return n
}

function parseBatch(
  body: unknown,
  maxFrames: number,
): { batch: number; received: number | undefined; frames: readonly unknown[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, 'Expected {batch, received?, frames}')
  }
  const { batch, received, frames } = body as Record<string, unknown>
  if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, '"batch" must be a positive integer')
  }
  if (
    received !== undefined &&
    (typeof received !== 'number' || !Number.isSafeInteger(received) || received < 0)
  ) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, '"received" must be a non-negative integer')
  }
  if (!Array.isArray(frames) || frames.length > maxFrames) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, `"frames" must be an array of at most ${maxFrames}`)
  }
  return { batch, received, frames }
}
