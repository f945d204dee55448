import { createHash, createHmac } from 'node:crypto'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import {
  type ClientFrame,
  CloseCode,
  type HelloFrame,
  type MsgFrame,
  type ServerFrame,
  parseClientFrame,
  type Position,
} from '@seqline/protocol'
import { WebSocket, WebSocketServer } from 'ws'
import { FakeSessions, type FakeSessionOptions, sendError } from './fake-sessions.js'

// A small in-process Seqline server speaking enough of protocol v1 to test the client end to end over
// real sockets: an in-memory log per stream, idempotent producers, resume / reset, presence, signals,
// plus fault injection (destroy sockets, blackhole, drop or duplicate live frames, lose pubacks).
// A connection is a WebSocket on `/v1/ws` or an HTTP session under `/v1/sessions` (fake-sessions.ts,
// after docs/client.md "HTTP sessions"): both are a `Peer` of the same connection logic.
//
// Tokens: `<user>` or `<user>#<expiresAt ms>`; `bad` is refused with UNAUTHENTICATED. The server
// does not watch the time: a test expires tokens with `expireTokens()` and ends the grace period
// with `endGrace()`.

interface StreamState {
  epoch: string
  /** messages[i] has offset tail + i. */
  messages: MsgFrame[]
  tail: number
  head: number
  producers: Map<string, { epoch: number; lastSeq: number; offsets: Map<number, number> }>
}

interface ClientRecord {
  readonly id: string
  readonly secret: string
  readonly userId: string
  readonly cursors: Map<string, number>
}

/** How the server reaches one connection: a WebSocket, or an HTTP session. */
export interface Peer {
  /** Whether frames can still be sent. */
  readonly open: boolean
  send(text: string): void
  /** Ends the connection as the server does, with a WebSocket close code. */
  close(code: number, reason?: string): void
  /** Drops its network connections abruptly (no close frame); an HTTP session survives it. */
  terminate(): void
}

/** One connection of a client. */
export interface Conn {
  readonly peer: Peer
  readonly id: string
  client: ClientRecord | undefined
  /** The user token in use (from `hello`, then `auth`). */
  token: string
  /** A token `expireTokens()` declared expired: HTTP requests carrying it get 401 TOKEN_EXPIRED. */
  expiredToken: string | undefined
  /** The user token's expiry, if it has one. */
  expiresAt: number | undefined
  /** TOKEN_EXPIRED was sent: the connection closes at the end of the grace period without `auth`. */
  expired: boolean
  readonly subs: Set<string>
  blackholed: boolean
  readonly received: ClientFrame[]
}

/** Options of {@link FakeServer.start}. */
export interface FakeServerOptions extends FakeSessionOptions {
  readonly heartbeatMs?: number
}

/** An in-process fake Seqline server on port 0. */
export class FakeServer {
  readonly url: string
  readonly heartbeatMs: number
  /** The HTTP session endpoints, their counters and faults. */
  readonly sessions: FakeSessions
  readonly #http: Server
  readonly #wss: WebSocketServer
  readonly #sockets = new Set<Socket>()
  readonly #streams = new Map<string, StreamState>()
  readonly #clients = new Map<string, ClientRecord>()
  readonly conns = new Set<Conn>()
  #nextId = 1
  #refusing = false
  /** Live `msg` frames to drop before sending (gap injection), per stream. */
  readonly dropLive = new Map<string, number>()
  /** Send every live `msg` twice (at-least-once wire). */
  duplicateLive = false
  /** Commit publishes but never answer them (lost pubacks). */
  losePubacks = false
  /** Frames of every connection, in order. */
  readonly frames: ClientFrame[] = []
  /** Clients deleted by a valid closing notice (`POST /v1/clients/<id>/closing`). */
  readonly closed: string[] = []
  /** Closing notices refused, with the reason. */
  readonly refusedNotices: string[] = []
  /** Clients deleted by `DELETE /v1/clients/<id>`. */
  readonly deleted: string[] = []

  private constructor(http: Server, options: FakeServerOptions) {
    this.#http = http
    this.#wss = new WebSocketServer({ server: http, path: '/v1/ws' })
    this.heartbeatMs = options.heartbeatMs ?? 30_000
    const { port } = http.address() as AddressInfo
    this.url = `http://127.0.0.1:${port}`
    this.sessions = new FakeSessions(this, options)
    this.#wss.on('connection', (ws) => this.#accept(ws))
    http.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
    })
    http.on('request', (req, res) => this.#request(req, res))
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const http = createServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    return new FakeServer(http, options)
  }

  /** Whether new connections are refused (`refuse()`). */
  get refusing(): boolean {
    return this.#refusing
  }

  /** Opens a connection for `peer` and handles its hello (used by the HTTP session endpoints). */
  connect(peer: Peer, hello: HelloFrame): Conn {
    const conn = this.#newConn(peer, hello.token)
    this.#frame(conn, hello)
    return conn
  }

  /** A frame of an open connection (used by the HTTP session endpoints). */
  receive(conn: Conn, frame: ClientFrame): void {
    if (!conn.blackholed) this.#frame(conn, frame)
  }

  /** A connection ended (used by the HTTP session endpoints). */
  disconnected(conn: Conn): void {
    if (!this.conns.delete(conn)) return
    this.#left(conn)
  }

  /** Server-side publish. */
  append(stream: string, data: unknown, from: string | null = null): MsgFrame {
    return this.#commit(stream, data, from, null, null)
  }

  /** The committed messages of a stream, from the tail. */
  log(stream: string): readonly MsgFrame[] {
    return this.#stream(stream).messages
  }

  head(stream: string): Position {
    const s = this.#stream(stream)
    return { epoch: s.epoch, offset: s.head }
  }

  /** Retention: drops every message below `tail`. */
  truncate(stream: string, tail: number): void {
    const s = this.#stream(stream)
    s.messages = s.messages.filter((m) => m.offset >= tail)
    s.tail = tail
  }

  /** Recreates the stream's history under a new epoch (offsets restart at 1). */
  resetEpoch(stream: string): void {
    const s = this.#stream(stream)
    s.epoch = `e${this.#nextId++}`
    s.messages = []
    s.tail = 1
    s.head = 0
    s.producers.clear()
  }

  /** The stream's last committed producer state, for assertions. */
  producer(stream: string, producer: string): { epoch: number; lastSeq: number } | undefined {
    return this.#stream(stream).producers.get(producer)
  }

  /** Destroys every socket abruptly (no close frame); HTTP sessions survive, their reads are cut. */
  destroyAll(): void {
    for (const conn of this.conns) conn.peer.terminate()
  }

  /** Refuses (destroys) every new connection until `accept()`; with `drop`, also the current ones. */
  refuse(drop = true): void {
    this.#refusing = true
    if (drop) this.destroyAll()
  }

  accept(): void {
    this.#refusing = false
  }

  /** Current connections stop answering and sending, without closing: a half-open link. */
  blackhole(): void {
    for (const conn of this.conns) conn.blackholed = true
  }

  /** Sends `goaway` and closes every connection with 1001. */
  goaway(retryAfterMs: number): void {
    for (const conn of this.conns) {
      this.#send(conn, { t: 'goaway', retryAfterMs })
      conn.peer.close(CloseCode.GOING_AWAY, `retry=${retryAfterMs}`)
    }
  }

  /** Sends `frame` on every current connection. */
  broadcast(frame: ServerFrame): void {
    for (const conn of this.conns) this.#send(conn, frame)
  }

  /** Garbage-collects a client: its next hello gets a new client (`replaced: 'unknown'`). */
  forgetClient(id: string): void {
    this.#clients.delete(id)
  }

  clientIds(): string[] {
    return [...this.#clients.keys()]
  }

  async close(): Promise<void> {
    this.sessions.close()
    for (const conn of this.conns) conn.peer.terminate()
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
    await new Promise<void>((resolve) => this.#http.close(() => resolve()))
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    if (this.#refusing) {
      req.socket.destroy()
      return
    }
    const path = new URL(req.url ?? '/', this.url).pathname
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    } else if (path === '/v1/sessions' || path.startsWith('/v1/sessions/')) {
      this.sessions.handle(req, res)
    } else if (/^\/v1\/clients\/[^/]+\/closing$/.test(path) && req.method === 'POST') {
      void this.#closing(decodeURIComponent(path.split('/')[3]!), req, res)
    } else if (/^\/v1\/clients\/[^/]+$/.test(path) && req.method === 'DELETE') {
      this.#delete(decodeURIComponent(path.split('/')[3]!), req, res)
    } else sendError(res, 404, 'NOT_FOUND', 'no such route')
  }

  /**
   * A closing notice: `{ts, mac}` as text/plain, mac = base64url HMAC-SHA256 keyed with the raw
   * SHA-256 of the client secret over `seqline-close:<id>:<ts>`, ts within 120 s.
   */
  async #closing(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = ''
    for await (const chunk of req as AsyncIterable<Buffer>) text += chunk.toString('utf8')
    const refuse = (reason: string): void => {
      this.refusedNotices.push(reason)
      sendError(res, 403, 'FORBIDDEN', reason)
    }
    const client = this.#clients.get(id)
    if (client === undefined) return refuse('unknown client')
    if (!(req.headers['content-type'] ?? '').startsWith('text/plain'))
      return refuse('not text/plain')
    let notice: { ts?: unknown; mac?: unknown }
    try {
      notice = JSON.parse(text) as typeof notice
    } catch {
      return refuse('not JSON')
    }
    if (typeof notice.ts !== 'number' || Math.abs(Date.now() - notice.ts) > 120_000) {
      return refuse('stale')
    }
    const key = createHash('sha256').update(client.secret).digest()
    const mac = createHmac('sha256', key).update(`seqline-close:${id}:${notice.ts}`).digest()
    if (notice.mac !== mac.toString('base64url')) return refuse('bad mac')
    this.#clients.delete(id)
    this.closed.push(id)
    res.writeHead(204).end()
  }

  /** `DELETE /v1/clients/<id>` with the user token of its owner. */
  #delete(id: string, req: IncomingMessage, res: ServerResponse): void {
    const user = parseToken(/^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
    if (user === undefined) return sendError(res, 401, 'UNAUTHENTICATED', 'bad token')
    const client = this.#clients.get(id)
    if (client === undefined) return sendError(res, 404, 'CLIENT_UNKNOWN', 'no such client')
    if (client.userId !== user.userId) return sendError(res, 403, 'FORBIDDEN', 'not your client')
    this.#clients.delete(id)
    this.deleted.push(id)
    for (const conn of this.conns) if (conn.client === client) conn.peer.close(CloseCode.REVOKED)
    res.writeHead(204).end()
  }

  #accept(ws: WebSocket): void {
    if (this.#refusing) {
      ws.terminate()
      return
    }
    const conn = this.#newConn(
      {
        get open() {
          return ws.readyState === WebSocket.OPEN
        },
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
      },
      '',
    )
    ws.on('message', (data) => {
      if (conn.blackholed) return
      let frame: ClientFrame
      try {
        frame = parseClientFrame(String(data))
      } catch (error) {
        this.#send(conn, { t: 'error', code: 'BAD_FRAME', message: String(error) })
        return
      }
      this.#frame(conn, frame)
    })
    ws.on('close', () => this.disconnected(conn))
    ws.on('error', () => {})
  }

  #newConn(peer: Peer, token: string): Conn {
    const conn: Conn = {
      peer,
      id: `conn${this.#nextId++}`,
      client: undefined,
      token,
      expiredToken: undefined,
      subs: new Set(),
      blackholed: false,
      received: [],
      expiresAt: undefined,
      expired: false,
    }
    this.conns.add(conn)
    return conn
  }

  #frame(conn: Conn, frame: ClientFrame): void {
    conn.received.push(frame)
    this.frames.push(frame)
    this.#handle(conn, frame)
  }

  #handle(conn: Conn, frame: ClientFrame): void {
    if (frame.t === 'hello') return this.#hello(conn, frame)
    const client = conn.client
    if (client === undefined) {
      return this.#send(conn, { t: 'error', code: 'HELLO_REQUIRED', message: 'hello first' })
    }
    switch (frame.t) {
      case 'auth':
        return this.#auth(conn, client, frame.token)
      case 'ping':
        return this.#send(conn, { t: 'pong' })
      case 'sub':
        return this.#sub(conn, client, frame.stream, frame.from)
      case 'unsub':
        conn.subs.delete(frame.stream)
        return
      case 'ack':
        client.cursors.set(frame.stream, frame.offset)
        return
      case 'signal':
        for (const other of this.conns) {
          if (other !== conn && other.subs.has(frame.stream)) {
            this.#send(other, {
              t: 'signal',
              stream: frame.stream,
              from: client.userId,
              data: frame.data,
            })
          }
        }
        return
      case 'pub':
        return this.#pub(conn, client, frame)
    }
  }

  /** Sends TOKEN_EXPIRED to every connection whose token expires; `endGrace()` closes them. */
  expireTokens(): void {
    for (const conn of this.conns) {
      if (conn.expiresAt === undefined) continue
      conn.expired = true
      conn.expiredToken = conn.token
      this.#send(conn, { t: 'error', code: 'TOKEN_EXPIRED', message: 'the token expired' })
    }
  }

  /** Closes, with TOKEN_EXPIRED (4401), every connection that got no valid `auth` in time. */
  endGrace(): void {
    for (const conn of this.conns) {
      if (conn.expired) conn.peer.close(CloseCode.TOKEN_EXPIRED, 'TOKEN_EXPIRED')
    }
  }

  /** Revokes every connection: `error` CLIENT_REVOKED (unless `silently`), then close 4403. */
  revoke(options: { silently?: boolean } = {}): void {
    for (const conn of this.conns) {
      if (options.silently !== true) {
        this.#send(conn, { t: 'error', code: 'CLIENT_REVOKED', message: 'secret rotated' })
      }
      conn.peer.close(CloseCode.REVOKED, 'CLIENT_REVOKED')
    }
  }

  #auth(conn: Conn, client: ClientRecord, token: string): void {
    const parsed = parseToken(token)
    if (parsed === undefined) {
      this.#send(conn, { t: 'error', code: 'UNAUTHENTICATED', message: 'bad token' })
      conn.peer.close(CloseCode.POLICY, 'UNAUTHENTICATED')
      return
    }
    if (parsed.userId !== client.userId) {
      this.#send(conn, { t: 'error', code: 'FORBIDDEN', message: 'another user' })
      return
    }
    conn.token = token
    conn.expiresAt = parsed.expiresAt
    conn.expired = false
    conn.expiredToken = undefined
    this.#send(conn, {
      t: 'authOk',
      ...(parsed.expiresAt === undefined ? {} : { expiresAt: parsed.expiresAt }),
    })
  }

  #hello(conn: Conn, frame: Extract<ClientFrame, { t: 'hello' }>): void {
    const parsed = parseToken(frame.token)
    if (parsed === undefined) {
      this.#send(conn, { t: 'error', code: 'UNAUTHENTICATED', message: 'bad token' })
      conn.peer.close(CloseCode.POLICY, 'UNAUTHENTICATED')
      return
    }
    const { userId, expiresAt } = parsed
    conn.token = frame.token
    conn.expiresAt = expiresAt
    let replaced: 'unknown' | 'in-use' | undefined
    let client = frame.clientId === undefined ? undefined : this.#clients.get(frame.clientId)
    if (frame.clientId !== undefined && client === undefined) replaced = 'unknown'
    if (client !== undefined && (client.secret !== frame.secret || client.userId !== userId)) {
      this.#send(conn, { t: 'error', code: 'FORBIDDEN', message: 'not your client' })
      conn.peer.close(CloseCode.POLICY, 'FORBIDDEN')
      return
    }
    if (client !== undefined) {
      const live = [...this.conns].filter((c) => c !== conn && c.client === client)
      const own = live.find((c) => c.id === frame.takeover)
      if (own !== undefined) own.peer.close(CloseCode.REPLACED)
      else if (live.length > 0) {
        client = undefined
        replaced = 'in-use'
      }
    }
    let secret: string | undefined
    if (client === undefined) {
      secret = `s${this.#nextId++}`
      client = { id: `c${this.#nextId++}`, secret, userId, cursors: new Map() }
      this.#clients.set(client.id, client)
    }
    conn.client = client
    this.#send(conn, {
      t: 'welcome',
      clientId: client.id,
      ...(secret === undefined ? {} : { secret }),
      connectionId: conn.id,
      userId,
      heartbeatMs: this.heartbeatMs,
      ...(replaced === undefined ? {} : { replaced }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
    })
  }

  #sub(conn: Conn, client: ClientRecord, name: string, from: unknown): void {
    const s = this.#stream(name)
    const joined = !conn.subs.has(name)
    conn.subs.add(name)
    const start = (from ??
      (client.cursors.has(name)
        ? { epoch: s.epoch, offset: client.cursors.get(name) }
        : 'latest')) as 'latest' | 'earliest' | Position
    if (start === 'latest') {
      this.#send(conn, {
        t: 'caughtUp',
        stream: name,
        epoch: s.epoch,
        head: s.head,
        recovered: false,
      })
    } else if (start === 'earliest') {
      for (const m of s.messages) this.#send(conn, m)
      this.#send(conn, {
        t: 'caughtUp',
        stream: name,
        epoch: s.epoch,
        head: s.head,
        recovered: false,
      })
    } else {
      const reason =
        start.epoch !== s.epoch
          ? 'epoch'
          : start.offset > s.head
            ? 'ahead'
            : start.offset + 1 < s.tail
              ? 'truncated'
              : undefined
      if (reason !== undefined) {
        this.#send(conn, {
          t: 'reset',
          stream: name,
          reason,
          epoch: s.epoch,
          head: s.head,
          tail: s.tail,
        })
      } else {
        for (const m of s.messages) if (m.offset > start.offset) this.#send(conn, m)
        this.#send(conn, {
          t: 'caughtUp',
          stream: name,
          epoch: s.epoch,
          head: s.head,
          recovered: true,
        })
      }
    }
    const users = this.#presence(name)
    const count = { users: users.length, clients: users.reduce((n, e) => n + e.clients, 0) }
    this.#send(conn, { t: 'presence', stream: name, users, count, complete: true })
    if (joined) this.#presenceChanged(conn, name, client.userId)
  }

  #pub(conn: Conn, client: ClientRecord, frame: Extract<ClientFrame, { t: 'pub' }>): void {
    const s = this.#stream(frame.stream)
    const state = s.producers.get(client.id)
    const nack = (code: string, extra: object = {}): void =>
      this.#send(conn, {
        t: 'nack',
        stream: frame.stream,
        seq: frame.seq,
        code,
        message: code,
        ...extra,
      } as ServerFrame)
    if (state !== undefined && frame.epoch < state.epoch) {
      return nack('PRODUCER_FENCED', { producerEpoch: state.epoch })
    }
    if (state === undefined || frame.epoch > state.epoch) {
      if (frame.seq !== 0) return nack('INVALID_PRODUCER')
    } else if (frame.seq <= state.lastSeq) {
      if (this.losePubacks) return
      return this.#send(conn, {
        t: 'puback',
        stream: frame.stream,
        seq: frame.seq,
        offset: state.offsets.get(frame.seq) ?? 0,
        epoch: s.epoch,
        duplicate: true,
      })
    } else if (frame.seq !== state.lastSeq + 1) {
      return nack('PRODUCER_SEQ_GAP', { expectedSeq: state.lastSeq + 1 })
    }
    const msg = this.#commit(frame.stream, frame.data, client.userId, client.id, frame.seq)
    const next =
      state !== undefined && state.epoch === frame.epoch
        ? state
        : { epoch: frame.epoch, lastSeq: -1, offsets: new Map() }
    next.lastSeq = frame.seq
    next.offsets.set(frame.seq, msg.offset)
    s.producers.set(client.id, next)
    if (!this.losePubacks) {
      this.#send(conn, {
        t: 'puback',
        stream: frame.stream,
        seq: frame.seq,
        offset: msg.offset,
        epoch: s.epoch,
      })
    }
  }

  #commit(
    name: string,
    data: unknown,
    from: string | null,
    producer: string | null,
    seq: number | null,
  ): MsgFrame {
    const s = this.#stream(name)
    s.head += 1
    const msg: MsgFrame = {
      t: 'msg',
      stream: name,
      offset: s.head,
      epoch: s.epoch,
      producer,
      seq,
      from,
      ts: Date.now(),
      data,
    }
    s.messages.push(msg)
    for (const conn of this.conns) {
      if (!conn.subs.has(name)) continue
      const drop = this.dropLive.get(name) ?? 0
      if (drop > 0) {
        this.dropLive.set(name, drop - 1)
        continue
      }
      this.#send(conn, msg)
      if (this.duplicateLive) this.#send(conn, msg)
    }
    return msg
  }

  #presence(name: string): { user: string; clients: number }[] {
    const counts = new Map<string, Set<string>>()
    for (const conn of this.conns) {
      if (conn.client === undefined || !conn.subs.has(name)) continue
      const set = counts.get(conn.client.userId) ?? new Set()
      set.add(conn.client.id)
      counts.set(conn.client.userId, set)
    }
    return [...counts].map(([user, clients]) => ({ user, clients: clients.size }))
  }

  #presenceChanged(except: Conn | undefined, name: string, user: string): void {
    const clients = this.#presence(name).find((p) => p.user === user)?.clients ?? 0
    for (const conn of this.conns) {
      if (conn !== except && conn.subs.has(name)) {
        const users = this.#presence(name)
        const count = { users: users.length, clients: users.reduce((n, e) => n + e.clients, 0) }
        this.#send(conn, { t: 'presenceDiff', stream: name, changes: [{ user, clients }], count })
      }
    }
  }

  #left(conn: Conn): void {
    if (conn.client === undefined) return
    for (const name of conn.subs) this.#presenceChanged(conn, name, conn.client.userId)
  }

  #stream(name: string): StreamState {
    let s = this.#streams.get(name)
    if (s === undefined) {
      s = { epoch: `e${this.#nextId++}`, messages: [], tail: 1, head: 0, producers: new Map() }
      this.#streams.set(name, s)
    }
    return s
  }

  #send(conn: Conn, frame: ServerFrame): void {
    if (conn.blackholed || !conn.peer.open) return
    conn.peer.send(JSON.stringify(frame))
  }
}

/** `<user>` or `<user>#<expiresAt>`; `undefined` for a token the server refuses. */
export function parseToken(token: string): { userId: string; expiresAt?: number } | undefined {
  const [userId = '', expiry] = token.split('#')
  if (userId === '' || userId === 'bad') return undefined
  return expiry === undefined ? { userId } : { userId, expiresAt: Number(expiry) }
}
