import {
  type ClientFrame,
  CloseCode,
  type ErrorCode,
  type PubFrame,
  type ServerFrame,
} from '@seqline/protocol'
import { type Clock, systemClock } from './clock.js'
import { type LiveRead, liveRead } from './http-live-read.js'
import { offsetToPosition } from './offset-token.js'
import { randomId } from './random-id.js'
import {
  ABNORMAL_CLOSURE,
  type Transport,
  type TransportHandlers,
  type TransportLink,
} from './transport.js'

/** Options of {@link httpTransport}. */
export interface HttpTransportOptions {
  /** The server's http(s) base URL. */
  readonly url: string
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch
  readonly clock?: Clock
  /**
   * Heartbeat announced to the connection (unless the client sets `heartbeatMs`). It must exceed
   * the server's SSE keep-alive interval (`--long-poll-timeout-ms`, 30 s by default).
   */
  readonly heartbeatMs?: number
}

/** Default heartbeat of the HTTP transport: the server's default SSE keep-alive (30 s) + 50 %. */
export const HTTP_HEARTBEAT_MS = 45_000

/**
 * The HTTP fallback transport (DESIGN §6, G5): the WebSocket protocol's frames mapped onto the
 * server's Durable Streams and Seqline endpoints, so the client above it does not change.
 *
 * | frame     | HTTP                                                                          |
 * | --------- | ----------------------------------------------------------------------------- |
 * | `hello`   | `POST /v1/clients` (new client) or `GET /v1/clients/:id/cursors` (check)       |
 * | `sub`     | `GET /v1/stream/<name>?offset=…&live=sse` (see {@link liveRead}), presence poll |
 * | `pub`     | `POST /v1/stream/<name>`, `[data]`, `Producer-Id/Epoch/Seq`; one at a time per stream |
 * | `ack`     | `POST /v1/clients/:id/acks`                                                    |
 * | `ping`    | `GET /healthz`                                                                 |
 * | `signal`  | dropped: signals are WebSocket-only                                            |
 *
 * Messages read over HTTP carry no envelope: `producer`, `seq`, `from` and `ts` are null. Presence
 * is polled on every heartbeat ping; HTTP readers do not appear in it. A publish travels under
 * the same producer state as over WebSocket (producer id = client id).
 *
 * @example
 * import { httpTransport } from '@seqline/client/http'
 * createClient({ url, token, transport: httpTransport({ url, heartbeatMs: 60_000 }) })
 */
export function httpTransport(options: HttpTransportOptions): Transport {
  return { name: 'http', connect: (handlers) => httpLink(options, handlers) }
}

function httpLink(options: HttpTransportOptions, handlers: TransportHandlers): TransportLink {
  const base = options.url.replace(/\/+$/, '')
  const clock = options.clock ?? systemClock
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis)
  const abort = new AbortController()
  const reads = new Map<string, LiveRead>()
  const presence = new Map<string, string>()
  const publishing = new Map<string, Promise<void>>()
  let token = ''
  let clientId = ''
  let cursors: { stream: string; epoch: string; offset: number }[] = []
  let done = false
  let lastPing = clock.now()

  const emit = (frame: ServerFrame): void => {
    if (!done) handlers.onFrame(frame)
  }
  const finish = (code: number, reason: string, error?: unknown): void => {
    if (done) return
    done = true
    shutdown()
    handlers.onClose(error === undefined ? { code, reason } : { code, reason, error })
  }
  const shutdown = (): void => {
    abort.abort()
    for (const read of reads.values()) read.stop()
    reads.clear()
  }
  const request = (path: string, init: RequestInit = {}): Promise<Response> =>
    doFetch(`${base}${path}`, {
      ...init,
      cache: 'no-store',
      signal: init.signal ?? abort.signal,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as object | undefined) },
    })
  const json = (method: string, body: unknown): RequestInit => ({
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const fail = (error: unknown): void => finish(ABNORMAL_CLOSURE, 'HTTP request failed', error)
  const create = async (stream: string): Promise<boolean> => {
    const res = await request(`/v1/stream/${encodeURIComponent(stream)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
    })
    await res.body?.cancel()
    if (res.ok) return true
    const code = res.status === 403 ? 'FORBIDDEN' : res.status === 401 ? 'UNAUTHENTICATED' : ''
    if (code === '') throw new Error(`HTTP ${res.status} creating ${stream}`)
    emit({ t: 'error', code, message: `HTTP ${res.status} creating ${stream}`, stream })
    return false
  }
  const errorOf = async (res: Response): Promise<{ code: ErrorCode; message: string }> => {
    const body = (await res.json().catch(() => ({}))) as {
      error?: { code?: ErrorCode; message?: string }
    }
    return {
      code: body.error?.code ?? (res.status === 429 ? 'RATE_LIMITED' : 'INTERNAL'),
      message: body.error?.message ?? `HTTP ${res.status}`,
    }
  }

  const hello = async (frame: Extract<ClientFrame, { t: 'hello' }>): Promise<void> => {
    token = frame.token
    let secret: string | undefined
    let res: Response
    if (frame.clientId === undefined) {
      res = await request('/v1/clients', { method: 'POST' })
      if (res.status === 201) {
        ;({ clientId, secret } = (await res.json()) as { clientId: string; secret: string })
      }
    } else {
      // HTTP routes authenticate the user's token and check that the client is theirs (G8).
      res = await request(`/v1/clients/${encodeURIComponent(frame.clientId)}/cursors`)
      if (res.ok) {
        clientId = frame.clientId
        ;({ cursors } = (await res.json()) as { cursors: typeof cursors })
      }
    }
    if (!res.ok) {
      emit({ t: 'error', ...(await errorOf(res)) })
      return
    }
    emit({
      t: 'welcome',
      clientId,
      ...(secret === undefined ? {} : { secret }),
      connectionId: `h_${randomId().slice(0, 16)}`,
      // Not told over HTTP; apps that need it have it from their own auth.
      userId: '',
      heartbeatMs: options.heartbeatMs ?? HTTP_HEARTBEAT_MS,
    })
  }

  const subscribe = (frame: Extract<ClientFrame, { t: 'sub' }>): void => {
    reads.get(frame.stream)?.stop()
    let from = frame.from
    if (from === undefined) {
      // Like the server: resume from the client's cursor, else start at the head.
      const cursor = cursors.find((c) => c.stream === frame.stream)
      from = cursor === undefined ? 'latest' : { epoch: cursor.epoch, offset: cursor.offset }
    }
    const read = liveRead(
      frame.stream,
      from,
      { request, emit, alive: () => {}, fail, create },
      () => clock.now(),
    )
    reads.set(frame.stream, read)
    presence.delete(frame.stream)
    void pollPresence(frame.stream)
  }

  const pollPresence = async (stream: string): Promise<void> => {
    const res = await request(`/v1/presence/${encodeURIComponent(stream)}`).catch(() => undefined)
    if (res?.ok !== true || !reads.has(stream)) return
    const { users } = (await res.json()) as { users: { user: string; clients: number }[] }
    const text = JSON.stringify(users)
    if (presence.get(stream) === text) return
    presence.set(stream, text)
    const clients = users.reduce((sum, entry) => sum + entry.clients, 0)
    emit({ t: 'presence', stream, users, count: { users: users.length, clients }, complete: true })
  }

  const publish = (frame: PubFrame): void => {
    // One append in flight per stream: parallel requests could arrive out of order, and the
    // producer's seqs must arrive in order to be accepted.
    const previous = publishing.get(frame.stream) ?? Promise.resolve()
    const next = previous.then(() => append(frame)).catch(fail)
    publishing.set(frame.stream, next)
  }

  const append = async (frame: PubFrame): Promise<void> => {
    if (done) return
    const path = `/v1/stream/${encodeURIComponent(frame.stream)}`
    const init = (): RequestInit => ({
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'producer-id': clientId,
        'producer-epoch': String(frame.epoch),
        'producer-seq': String(frame.seq),
      },
      // JSON mode flattens a top-level array by one level: wrap, so that an array is one message.
      body: JSON.stringify([frame.data]),
    })
    let res = await request(path, init())
    if (res.status === 404) {
      await res.body?.cancel()
      if (!(await create(frame.stream))) return
      res = await request(path, init())
    }
    const { stream, seq } = frame
    if (res.status === 200 || res.status === 204) {
      await res.body?.cancel()
      const position = offsetToPosition(res.headers.get('stream-next-offset') ?? '')
      emit({
        t: 'puback',
        stream,
        seq,
        offset: position?.offset ?? 0,
        epoch: position?.epoch ?? '',
        ...(res.status === 204 ? { duplicate: true } : {}),
      })
      return
    }
    const expectedSeq = res.headers.get('producer-expected-seq')
    const producerEpoch = res.headers.get('producer-epoch')
    emit({
      t: 'nack',
      stream,
      seq,
      ...(await errorOf(res)),
      ...(expectedSeq === null ? {} : { expectedSeq: Number(expectedSeq) }),
      ...(producerEpoch === null || res.status !== 403
        ? {}
        : { producerEpoch: Number(producerEpoch) }),
    })
  }

  const ping = (): void => {
    const now = clock.now()
    const period = now - lastPing
    lastPing = now
    // A live read that has been silent for 1.5 ping periods (¾ of a heartbeat interval) is
    // blackholed: its server sends keep-alives well within that (the heartbeat must exceed the
    // server's long-poll timeout). The whole link goes, like a socket, and is dialled again.
    for (const read of reads.values()) {
      if (now - read.lastActivity > 1.5 * period) {
        finish(CloseCode.STALLED, 'live read stalled')
        return
      }
    }
    for (const stream of reads.keys()) void pollPresence(stream)
    request('/healthz').then(
      async (res) => {
        await res.body?.cancel()
        emit({ t: 'pong' })
      },
      () => {},
    )
  }

  const handle = (frame: ClientFrame): void => {
    switch (frame.t) {
      case 'hello':
        hello(frame).catch(fail)
        return
      case 'sub':
        subscribe(frame)
        return
      case 'unsub':
        reads.get(frame.stream)?.stop()
        reads.delete(frame.stream)
        return
      case 'pub':
        publish(frame)
        return
      case 'ack':
        request(
          `/v1/clients/${encodeURIComponent(clientId)}/acks`,
          json('POST', { stream: frame.stream, offset: frame.offset }),
        ).then(
          (res) => res.body?.cancel(),
          () => {},
        )
        return
      case 'ping':
        ping()
        return
      default:
      // `signal`: WebSocket-only.
    }
  }

  // Like a socket's open event: never synchronously inside connect().
  queueMicrotask(() => {
    if (!done) handlers.onOpen()
  })
  return {
    send(frame) {
      if (!done) handle(frame)
    },
    close() {
      if (done) return
      done = true
      shutdown()
    },
  }
}
