import { createClient, MemoryStorage, type SeqlineClient, SeqlineError } from '@seqline/client'
import { ManualClock } from '@seqline/client/testing'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeServer } from './fake-server.js'

/** Waits for `check` to pass: generous, as the first use of a lazy chunk is compiled on the fly. */
const until = (check: () => unknown) => vi.waitFor(check, { timeout: 5000, interval: 10 })

// Token refresh on an open connection, against the fake server over real sockets. Time is a
// ManualClock: nothing happens until a test advances it (heartbeats are set far away, jitter to 0).

let server: FakeServer
let clock: ManualClock
const clients: SeqlineClient[] = []

beforeEach(async () => {
  server = await FakeServer.start()
  clock = new ManualClock()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await server.close()
})

/** A token source for alice whose tokens live `lifetimeMs`; `failing` makes it throw. */
function tokens(lifetimeMs = 60_000) {
  const source = {
    failing: false,
    issued: [] as string[],
    getToken: (): string => {
      if (source.failing) throw new Error('identity provider unavailable')
      const token = `alice#${clock.now() + lifetimeMs}`
      source.issued.push(token)
      return token
    },
  }
  return source
}

function client(getToken: () => string | Promise<string>): SeqlineClient {
  const c = createClient({
    url: server.url,
    getToken,
    clock,
    random: () => 0,
    heartbeatMs: 3_600_000,
    storage: new MemoryStorage(),
    environment: null,
  })
  clients.push(c)
  return c
}

const open = (c: SeqlineClient) => until(() => expect(c.state.kind).toBe('open'))
const sent = (t: string) => server.frames.filter((f) => f.t === t)
const connectionId = (c: SeqlineClient) => (c.state.kind === 'open' ? c.state.connectionId : '')

/** Waits until a timer is due at `at`: the refresher (loaded on first use) has planned its refresh. */
const planned = (at: number) => until(() => expect(clock.due()).toContain(at))

/** A round trip on the socket: every frame the server sent before it has been handled. */
async function roundTrip(c: SeqlineClient): Promise<void> {
  await c.stream('room:sync').publish('sync')
}

/** Follows `room:t` and returns what it delivers. */
async function follow(c: SeqlineClient): Promise<number[]> {
  const seen: number[] = []
  c.stream<number>('room:t').subscribe({ onMessage: (m) => void seen.push(m.data) })
  await open(c)
  await until(() => expect(sent('sub')).toHaveLength(1))
  return seen
}

describe('token refresh', () => {
  it('sends a fresh token before the old one expires, without reconnecting or resubscribing', async () => {
    const source = tokens(60_000)
    const c = client(source.getToken)
    const seen = await follow(c)
    const before = connectionId(c)
    await planned(clock.now() + 30_000)
    clock.advance(30_000)
    await until(() => expect(sent('auth')).toEqual([{ t: 'auth', token: source.issued[1] }]))
    await roundTrip(c) // the authOk has been handled: the next refresh is planned from it
    await planned(clock.now() + 30_000)
    clock.advance(30_000)
    await until(() => expect(sent('auth')).toHaveLength(2))
    server.append('room:t', 1)
    await until(() => expect(seen).toEqual([1]))
    expect(sent('sub')).toHaveLength(1)
    expect(sent('hello')).toHaveLength(1)
    expect(connectionId(c)).toBe(before)
  })

  it('keeps the connection when a refresh that failed succeeds after TOKEN_EXPIRED', async () => {
    const source = tokens(60_000)
    const c = client(source.getToken)
    const errors: Error[] = []
    c.on('error', (error) => errors.push(error))
    const seen = await follow(c)
    const before = connectionId(c)
    source.failing = true
    await planned(clock.now() + 30_000)
    clock.advance(30_000)
    await until(() => expect(errors).toMatchObject([{ code: 'TOKEN_REFRESH_FAILED' }]))
    source.failing = false
    server.expireTokens()
    await until(() => expect(sent('auth')).toHaveLength(1))
    await roundTrip(c)
    server.endGrace()
    server.append('room:t', 1)
    await until(() => expect(seen).toEqual([1]))
    expect(c.state.kind).toBe('open')
    expect(connectionId(c)).toBe(before)
    expect(sent('sub')).toHaveLength(1)
  })

  it('reconnects with a fresh token after a close with TOKEN_EXPIRED', async () => {
    const source = tokens(60_000)
    const c = client(source.getToken)
    const seen = await follow(c)
    source.failing = true
    server.expireTokens()
    server.endGrace()
    await until(() => expect(c.state).toMatchObject({ kind: 'reconnecting' }))
    source.failing = false
    clock.advance(0)
    await open(c)
    const hellos = sent('hello')
    expect(hellos).toHaveLength(2)
    expect(hellos[1]).toMatchObject({ token: source.issued.at(-1) })
    await until(() => expect(sent('sub')).toHaveLength(2))
    server.append('room:t', 1)
    await until(() => expect(seen).toEqual([1]))
  })

  it.each([
    ['a close with REVOKED', { silently: true }],
    ['an error CLIENT_REVOKED', { silently: false }],
  ])('closes for good on %s', async (_, options) => {
    const c = client(tokens().getToken)
    await open(c)
    server.revoke(options)
    await until(() => expect(c.state.kind).toBe('closed'))
    const error = c.state.kind === 'closed' ? c.state.error : undefined
    expect(error).toBeInstanceOf(SeqlineError)
    expect(error).toMatchObject({ code: 'CLIENT_REVOKED' })
    clock.advance(60_000)
    expect(sent('hello')).toHaveLength(1)
  })

  it('closes for good when the refreshed token is refused as UNAUTHENTICATED', async () => {
    let token = `alice#${clock.now() + 60_000}`
    const c = client(() => token)
    await open(c)
    token = 'bad'
    await planned(clock.now() + 30_000)
    clock.advance(30_000)
    await until(() => expect(c.state.kind).toBe('closed'))
    expect(c.state).toMatchObject({ error: { name: 'SeqlineError', code: 'UNAUTHENTICATED' } })
  })
})
