import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type ClientFrame,
  ErrorCode,
  type HelloFrame,
  httpStatusOf,
  parseClientFrame,
} from '@seqline/protocol'
import type { Conn, FakeServer, Peer } from './fake-server.js'
import { parseToken } from './fake-server.js'

// The HTTP session endpoints of the fake server, in memory, after the wire spec (docs/client.md,
// "HTTP sessions"): `POST /v1/sessions`, `GET …/events?after&mode=sse|poll`, `POST …/frames`,
// `DELETE …`. Every server frame of a session gets a sequence number; frames stay until a request
// acknowledges them (`after`, `received`); a batch number already processed is acknowledged without
// being processed again. Faults: cut reads (mid-event), lost POST answers, sessions that expire.

/** Options of the fake session endpoints. */
export interface FakeSessionOptions {
  /** The server ends an SSE read after this long (the client reads again). Default 60 s. */
  readonly sseCloseAfterMs?: number
  /** An empty long-poll answers after this long. Default 25 s. */
  readonly longPollTimeoutMs?: number
  /** A POST body above this size is refused with 413. Default 1 MiB. */
  readonly maxRequestBytes?: number
}

type Reader =
  | { readonly kind: 'sse'; readonly res: ServerResponse; sent: number; readonly timer: Timer }
  | {
      readonly kind: 'poll'
      readonly res: ServerResponse
      readonly after: number
      readonly timer: Timer
    }

type Timer = ReturnType<typeof setTimeout>

/** One HTTP session: a {@link Peer} of the fake server. */
class FakeSession implements Peer {
  readonly id: string
  conn: Conn | undefined
  /** Server frames not acknowledged yet, in order. */
  frames: { readonly seq: number; readonly text: string }[] = []
  nextSeq = 1
  lastBatch = 0
  /** Frame POSTs in flight. */
  posts = 0
  /** Frames sent while the session is being created: the answer to `POST /v1/sessions`. */
  opening: string[] | undefined = []
  reader: Reader | undefined
  ended = false
  readonly #owner: FakeSessions

  constructor(id: string, owner: FakeSessions) {
    this.id = id
    this.#owner = owner
  }

  get open(): boolean {
    return !this.ended
  }

  send(text: string): void {
    if (this.opening !== undefined) {
      this.opening.push(text)
      return
    }
    this.frames.push({ seq: this.nextSeq++, text })
    this.flush()
  }

  close(): void {
    if (this.ended) return
    this.ended = true
    // The frames sent just before (an error, a goaway) still reach the current read.
    this.flush()
    this.detach()
    this.#owner.ended(this)
  }

  terminate(): void {
    const reader = this.reader
    this.reader = undefined
    if (reader !== undefined) clearTimeout(reader.timer)
    reader?.res.socket?.destroy()
  }

  ack(upTo: number): void {
    this.frames = this.frames.filter((frame) => frame.seq > upTo)
  }

  /** Writes what the current read has not had yet. */
  flush(): void {
    const reader = this.reader
    if (reader === undefined) return
    if (reader.kind === 'sse') {
      for (const frame of this.frames) {
        if (frame.seq <= reader.sent) continue
        reader.res.write(`id: ${frame.seq}\ndata: ${frame.text}\n\n`)
        reader.sent = frame.seq
      }
      return
    }
    const frames = this.frames.filter((frame) => frame.seq > reader.after)
    if (frames.length === 0) return
    this.reader = undefined
    clearTimeout(reader.timer)
    const next = frames.at(-1)!.seq
    reader.res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(`{"frames":[${frames.map((f) => f.text).join(',')}],"next":${next}}`)
  }

  /** Ends the current read. */
  detach(): void {
    const reader = this.reader
    this.reader = undefined
    if (reader === undefined) return
    clearTimeout(reader.timer)
    if (reader.kind === 'sse') reader.res.end()
    else {
      reader.res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ frames: [], next: reader.after }))
    }
  }
}

/** The fake server's HTTP session endpoints. */
export class FakeSessions {
  /** Sessions created so far. */
  created = 0
  /** POSTs whose batch number had been processed already (retries). */
  duplicateBatches = 0
  /** Every request, as `METHOD path?query`. */
  readonly requests: string[] = []
  /** Most frame POSTs of one session in flight at the same time, so far. */
  maxPostsInFlight = 0
  readonly #server: FakeServer
  readonly #options: Required<FakeSessionOptions>
  readonly #sessions = new Map<string, FakeSession>()
  #nextId = 1
  #loseAnswers = 0

  constructor(server: FakeServer, options: FakeSessionOptions) {
    this.#server = server
    this.#options = {
      sseCloseAfterMs: options.sseCloseAfterMs ?? 60_000,
      longPollTimeoutMs: options.longPollTimeoutMs ?? 25_000,
      maxRequestBytes: options.maxRequestBytes ?? 1024 * 1024,
    }
  }

  /** Live sessions. */
  get size(): number {
    return this.#sessions.size
  }

  /** Server frames not acknowledged yet, over all sessions. */
  get unacked(): number {
    let n = 0
    for (const session of this.#sessions.values()) n += session.frames.length
    return n
  }

  /** Live sessions with an event read attached. */
  get reading(): number {
    return [...this.#sessions.values()].filter((session) => session.reader !== undefined).length
  }

  /**
   * Cuts every running event read (its TCP connection is destroyed); with `midEvent`, after
   * writing half of an event. The sessions go on.
   */
  cutReads(options: { midEvent?: boolean } = {}): number {
    let cut = 0
    for (const session of this.#sessions.values()) {
      const reader = session.reader
      if (reader === undefined) continue
      if (options.midEvent === true && reader.kind === 'sse') {
        reader.res.write(`id: ${session.nextSeq + 1000}\ndata: {"t":"msg","str`)
      }
      session.terminate()
      cut += 1
    }
    return cut
  }

  /** The next `n` frame POSTs are processed, but their connection is cut before the answer. */
  loseFrameAnswers(n: number): void {
    this.#loseAnswers = n
  }

  /** Ends every session as the idle timeout would: their ids answer 404 SESSION_UNKNOWN. */
  expireAll(): void {
    for (const session of [...this.#sessions.values()]) session.close()
  }

  /** A session ended: forget it and its connection. */
  ended(session: FakeSession): void {
    this.#sessions.delete(session.id)
    if (session.conn !== undefined) this.#server.disconnected(session.conn)
  }

  close(): void {
    for (const session of this.#sessions.values()) session.terminate()
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake')
    this.requests.push(`${req.method} ${url.pathname}${url.search}`)
    const [, , , id, action] = url.pathname.split('/')
    const token = /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    if (id === undefined) {
      if (req.method === 'POST') void this.#create(req, res, token)
      else sendError(res, 404, 'NOT_FOUND', 'no such route')
      return
    }
    const session = this.#sessions.get(decodeURIComponent(id))
    if (session?.conn?.client === undefined) {
      sendError(res, 404, 'SESSION_UNKNOWN', 'no such session')
      return
    }
    const user = parseToken(token)
    if (user === undefined) return sendError(res, 401, 'UNAUTHENTICATED', 'bad token')
    if (token === session.conn.expiredToken) {
      return sendError(res, 401, 'TOKEN_EXPIRED', 'the token expired')
    }
    if (user.userId !== session.conn.client.userId) {
      return sendError(res, 403, 'FORBIDDEN', 'not your session')
    }
    if (action === 'events' && req.method === 'GET') this.#read(session, url, res)
    else if (action === 'frames' && req.method === 'POST') void this.#frames(session, req, res)
    else if (action === undefined && req.method === 'DELETE') {
      session.close()
      res.writeHead(204).end()
    } else sendError(res, 404, 'NOT_FOUND', 'no such route')
  }

  async #create(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const body = await readJson(req, this.#options.maxRequestBytes)
    if (body === undefined || typeof body !== 'object' || body === null) {
      return sendError(res, 400, 'BAD_FRAME', 'not a JSON object')
    }
    const session = new FakeSession(
      `s${this.#nextId++}-${Math.random().toString(36).slice(2)}`,
      this,
    )
    const hello = { ...(body as object), t: 'hello', token } as HelloFrame
    session.conn = this.#server.connect(session, hello)
    const answer = session.opening ?? []
    session.opening = undefined
    const first = JSON.parse(answer[0] ?? '{}') as {
      t?: string
      code?: ErrorCode
      message?: string
    }
    if (first.t !== 'welcome') {
      session.close()
      const code = first.code ?? ErrorCode.INTERNAL
      return sendError(res, httpStatusOf[code] ?? 500, code, first.message ?? 'refused')
    }
    this.#sessions.set(session.id, session)
    this.created += 1
    // Anything after the welcome goes on the event read.
    for (const text of answer.slice(1)) session.send(text)
    res
      .writeHead(201, { 'content-type': 'application/json' })
      .end(`{"sessionId":${JSON.stringify(session.id)},"frames":[${answer[0]}]}`)
  }

  #read(session: FakeSession, url: URL, res: ServerResponse): void {
    const after = Number(url.searchParams.get('after') ?? '0')
    session.ack(after)
    // One read per session: a new one replaces the previous, which ends at once.
    session.detach()
    if (url.searchParams.get('mode') === 'poll') {
      const timer = setTimeout(() => {
        if (session.reader?.res === res) session.detach()
      }, this.#options.longPollTimeoutMs)
      session.reader = { kind: 'poll', res, after, timer }
    } else {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      res.write(': open\n\n')
      const timer = setTimeout(() => {
        if (session.reader?.res === res) session.detach()
      }, this.#options.sseCloseAfterMs)
      session.reader = { kind: 'sse', res, sent: after, timer }
    }
    res.on('close', () => {
      if (session.reader?.res !== res) return
      clearTimeout(session.reader.timer)
      session.reader = undefined
    })
    session.flush()
  }

  async #frames(session: FakeSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
    session.posts += 1
    this.maxPostsInFlight = Math.max(this.maxPostsInFlight, session.posts)
    try {
      await this.#handleFrames(session, req, res)
    } finally {
      // Before the answer is on its way, so a POST sent after it counts as the next one.
      session.posts -= 1
    }
  }

  async #handleFrames(
    session: FakeSession,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const body = await readJson(req, this.#options.maxRequestBytes)
    if (body === 'too large') return sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'body too large')
    const { batch, received, frames } = (body ?? {}) as {
      batch?: unknown
      received?: unknown
      frames?: unknown
    }
    if (!Number.isSafeInteger(batch) || !Array.isArray(frames)) {
      return sendError(res, 400, 'BAD_FRAME', 'expected {batch, received?, frames}')
    }
    if (typeof received === 'number') session.ack(received)
    const conn = session.conn!
    if ((batch as number) <= session.lastBatch) {
      this.duplicateBatches += 1
    } else {
      session.lastBatch = batch as number
      for (const raw of frames) {
        let frame: ClientFrame
        try {
          frame = parseClientFrame(JSON.stringify(raw))
        } catch (error) {
          session.send(
            JSON.stringify({ t: 'error', code: 'INVALID_FRAME', message: String(error) }),
          )
          continue
        }
        if (frame.t === 'hello') {
          session.send('{"t":"error","code":"INVALID_FRAME","message":"hello over a session"}')
        } else this.#server.receive(conn, frame)
      }
    }
    if (this.#loseAnswers > 0) {
      this.#loseAnswers -= 1
      req.socket.destroy()
      return
    }
    res.writeHead(204).end()
  }
}

/** Answers `{error: {code, message}}`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { code, message } }))
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return 'too large'
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    return undefined
  }
}
