import {
  type ClientOptions,
  createClient,
  MemoryStorage,
  type Message,
  type SeqlineClient,
} from '@seqline/client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type BufferingProxy, startBufferingProxy } from '../support/buffering-proxy.js'
import { range } from './client-harness.js'
import { FakeServer, type FakeServerOptions } from './fake-server.js'

/** Waits for `check` to pass: generous, as the first use of a lazy chunk is compiled on the fly. */
const until = (check: () => unknown) => vi.waitFor(check, { timeout: 5000, interval: 10 })

// The client over the HTTP session transport, against the fake server's in-memory session
// endpoints: one event read for every stream, one POST at a time, resumed reads, retried POSTs,
// the switch to long-polling behind a buffering proxy, and new sessions when one is gone.

let server: FakeServer
let proxy: BufferingProxy | undefined
const clients: SeqlineClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await proxy?.close()
  proxy = undefined
  await server.close()
})

async function start(options: FakeServerOptions = {}): Promise<FakeServer> {
  server = await FakeServer.start(options)
  return server
}

function client(options: Partial<ClientOptions> = {}): SeqlineClient {
  const c = createClient({
    url: server.url,
    token: 'alice',
    transport: 'http',
    storage: new MemoryStorage(),
    backoff: { baseMs: 20, maxMs: 200 },
    ackDelayMs: 5,
    environment: null,
    ...options,
  })
  clients.push(c)
  return c
}

const open = (c: SeqlineClient) => until(() => expect(c.state.kind).toBe('open'))
const reads = () => server.sessions.requests.filter((r) => r.startsWith('GET /v1/sessions/'))

/** Follows `streams` from the start; returns what each one delivered. */
function follow(c: SeqlineClient, streams: readonly string[]): Map<string, number[]> {
  const seen = new Map<string, number[]>()
  for (const stream of streams) {
    const list: number[] = []
    seen.set(stream, list)
    c.stream<number>(stream).subscribe({
      from: 'earliest',
      onMessage: (m) => void list.push(m.data),
    })
  }
  return seen
}

describe('the HTTP session transport', () => {
  it('carries 20 streams over one session and one event read, each in order', async () => {
    await start()
    const c = client()
    const streams = range(0, 20).map((i) => `room:${i}`)
    const seen = follow(c, streams)
    await open(c)
    await until(() => expect(server.frames.filter((f) => f.t === 'sub')).toHaveLength(20))
    for (let n = 0; n < 25; n++) for (const stream of streams) server.append(stream, n)
    await until(() => {
      for (const list of seen.values()) expect(list).toEqual(range(0, 25))
    })
    expect(c.state).toMatchObject({ kind: 'open', transport: 'sse' })
    expect(server.sessions.created).toBe(1)
    expect(reads()).toHaveLength(1)
    // What was read is acknowledged (`received`), so the server can let go of it.
    await until(() => expect(server.sessions.unacked).toBe(0))
  })

  it('keeps the session alive with pings over POST, answered on the event read', async () => {
    await start({ heartbeatMs: 200 })
    const c = client()
    await open(c)
    await until(() => expect(server.frames.filter((f) => f.t === 'ping').length).toBe(4))
    expect(c.state.kind).toBe('open')
    expect(server.sessions.created).toBe(1)
  })

  it('deletes its session when closed', async () => {
    await start()
    const c = client()
    await open(c)
    await c.close()
    await until(() => expect(server.sessions.size).toBe(0))
    // (A read the client had started may still reach the server after it, and get a 404.)
    expect(server.sessions.requests).toContainEqual(
      expect.stringMatching(/^DELETE \/v1\/sessions\/[^/]+$/),
    )
  })

  it('carries the envelope, publishes and signals like a WebSocket', async () => {
    await start()
    const alice = client()
    const bob = client({ token: 'bob' })
    const got: Message<string>[] = []
    const signals: unknown[] = []
    alice.stream<string>('room:e').subscribe({ onMessage: (m) => void got.push(m) })
    alice.stream('room:e').on('signal', (s) => signals.push(s))
    bob.stream('room:e').subscribe({ onMessage: () => {} })
    await Promise.all([open(alice), open(bob)])
    await until(() => expect(server.frames.filter((f) => f.t === 'sub')).toHaveLength(2))
    const result = await bob.stream<string>('room:e').publish('hello')
    expect(result).toMatchObject({ offset: 1, seq: 0, duplicate: false })
    await until(() => expect(got).toHaveLength(1))
    expect(got[0]).toMatchObject({ data: 'hello', from: 'bob', producer: bob.clientId, seq: 0 })
    expect(got[0]!.ts).toBeGreaterThan(0)
    await until(() => {
      bob.stream('room:e').signal({ typing: true })
      expect(signals).toContainEqual({ stream: 'room:e', from: 'bob', data: { typing: true } })
    })
  })

  it('resumes reads cut in the middle of an event on the same session, without loss or duplicate', async () => {
    await start()
    const c = client()
    const streams = ['room:a', 'room:b']
    const seen = follow(c, streams)
    await open(c)
    await until(() => expect(server.frames.filter((f) => f.t === 'sub')).toHaveLength(2))
    let cuts = 0
    for (let n = 0; n < 300; n++) {
      for (const stream of streams) server.append(stream, n)
      if (n % 50 === 25) {
        await until(() => expect(server.sessions.reading).toBe(1))
        cuts += server.sessions.cutReads({ midEvent: true })
      }
    }
    await until(() => {
      for (const list of seen.values()) expect(list).toEqual(range(0, 300))
    })
    expect(cuts).toBe(6)
    expect(server.sessions.created).toBe(1)
    expect(reads().length).toBeGreaterThan(cuts)
    expect(
      reads()
        .slice(1)
        .every((r) => !r.includes('after=0&')),
    ).toBe(true)
  })

  it('switches to long-polling for good behind a proxy that buffers responses, losing nothing', async () => {
    await start({ longPollTimeoutMs: 500 })
    proxy = await startBufferingProxy(server.url)
    const c = client({ url: proxy.url, sseProbeMs: 300 })
    const transports: string[] = []
    c.on('state', ({ to }) => {
      if (to.kind === 'open') transports.push(to.transport)
    })
    const seen = follow(c, ['room:p'])
    await until(() => expect(transports.at(-1)).toBe('long-poll'))
    for (const n of range(0, 20)) server.append('room:p', n)
    const published = await Promise.all(
      range(20, 30).map((n) => c.stream<number>('room:p').publish(n)),
    )
    expect(published.map((r) => r.offset)).toEqual(range(21, 31))
    await until(() => expect(seen.get('room:p')).toEqual(range(0, 30)))
    expect(transports).toEqual(['sse', 'long-poll'])
    const modes = reads().map((r) => /mode=(\w+)/.exec(r)?.[1])
    expect(modes[0]).toBe('sse')
    expect(modes.slice(1).every((mode) => mode === 'poll')).toBe(true)
    expect(proxy.held).toBeGreaterThan(0)
  })

  it('long-polls from the start when told to', async () => {
    await start({ longPollTimeoutMs: 300 })
    const c = client({ transport: 'long-poll' })
    const seen = follow(c, ['room:lp'])
    await open(c)
    expect(c.state).toMatchObject({ transport: 'long-poll' })
    for (const n of range(0, 10)) server.append('room:lp', n)
    await until(() => expect(seen.get('room:lp')).toEqual(range(0, 10)))
    expect(reads().every((r) => r.includes('mode=poll'))).toBe(true)
  })

  it('processes a POST retried after its answer was lost once', async () => {
    await start()
    const c = client()
    await open(c)
    server.sessions.loseFrameAnswers(3)
    const results = await Promise.all(
      range(0, 30).map((n) => c.stream<number>('room:r').publish(n)),
    )
    expect(results.map((r) => r.offset)).toEqual(range(1, 31))
    expect(server.log('room:r').map((m) => m.data)).toEqual(range(0, 30))
    const pubs = server.frames.filter((f) => f.t === 'pub')
    expect(pubs.map((f) => f.seq)).toEqual(range(0, 30))
    expect(server.sessions.duplicateBatches).toBeGreaterThanOrEqual(3)
    expect(server.sessions.created).toBe(1)
    expect(server.sessions.maxPostsInFlight).toBe(1)
  })

  it('dials a new session and resumes from its positions when the session is unknown', async () => {
    await start()
    const c = client()
    const seen = follow(c, ['room:gone'])
    await open(c)
    server.append('room:gone', 0)
    await until(() => expect(seen.get('room:gone')).toEqual([0]))
    server.sessions.expireAll()
    server.append('room:gone', 1)
    await until(() => expect(server.sessions.created).toBe(2))
    server.append('room:gone', 2)
    await until(() => expect(seen.get('room:gone')).toEqual([0, 1, 2]))
    const subs = server.frames.filter((f) => f.t === 'sub')
    expect(subs.at(-1)).toMatchObject({ from: { offset: 1 } })
  })

  it('splits a batch refused as too large and refuses the frame that is, like a WebSocket', async () => {
    await start({ maxRequestBytes: 4096 })
    const c = client()
    await open(c)
    const room = c.stream<string>('room:big')
    const small = room.publish('small')
    const large = room.publish('x'.repeat(8000))
    const after = room.publish('after')
    await expect(large).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    await expect(small).resolves.toMatchObject({ offset: 1 })
    await expect(after).resolves.toMatchObject({ offset: 2, seq: 1 })
    expect(server.log('room:big').map((m) => m.data)).toEqual(['small', 'after'])
  })

  it('retries requests refused for an expired token once the fresh token is sent', async () => {
    await start()
    let version = 0
    const c = client({
      token: undefined,
      getToken: () => `alice#${Date.now() + 3_600_000 + ++version}`,
    })
    const seen = follow(c, ['room:tok'])
    await open(c)
    await until(() => expect(server.frames.filter((f) => f.t === 'sub')).toHaveLength(1))
    server.expireTokens()
    server.sessions.cutReads() // the next read carries the expired token: 401 TOKEN_EXPIRED
    // The `error` frame and each 401 ask for a token: one `auth` at least gets through.
    const auths = () => server.frames.filter((f) => f.t === 'auth').length
    await until(() => expect(auths()).toBeGreaterThanOrEqual(1))
    server.endGrace()
    server.append('room:tok', 1)
    await until(() => expect(seen.get('room:tok')).toEqual([1]))
    expect(server.sessions.created).toBe(1)
    expect(c.state.kind).toBe('open')
  })
})
