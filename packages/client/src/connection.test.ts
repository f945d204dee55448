import { type ClientFrame, SeqlineError, type ServerFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { Connection } from './connection.js'
import type { ConnectionState } from './connection-state.js'
import { ManualClock } from './manual-clock.js'
import type { Transport, TransportHandlers } from './transport.js'

interface FakeLink {
  handlers: TransportHandlers
  sent: ClientFrame[]
  closed: boolean
}

function setup(options: { heartbeatMs?: number } = {}) {
  const clock = new ManualClock()
  const links: FakeLink[] = []
  const transport: Transport = {
    name: 'fake',
    connect(handlers) {
      const link: FakeLink = { handlers, sent: [], closed: false }
      links.push(link)
      return {
        send: (frame) => link.sent.push(frame),
        close: () => {
          link.closed = true
        },
      }
    },
  }
  const states: ConnectionState[] = []
  const frames: ServerFrame[] = []
  let verdict: 'fatal' | 'retry' | 'retry-now' = 'retry'
  const connection = new Connection({
    transport,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 8000 },
    connectTimeoutMs: 5000,
    heartbeatMs: options.heartbeatMs,
    hello: async () => ({ t: 'hello', token: 't' }),
    onWelcome: () => {},
    onFrame: (frame) => frames.push(frame),
    onHelloError: () => verdict,
    onStateChange: ({ to }) => states.push(to),
  })
  const last = (): FakeLink => links.at(-1)!
  const welcome = async (link = last()): Promise<void> => {
    link.handlers.onOpen()
    await Promise.resolve()
    await Promise.resolve()
    link.handlers.onFrame({
      t: 'welcome',
      clientId: 'c1',
      connectionId: `conn${links.length}`,
      userId: 'u',
      heartbeatMs: 1000,
    })
  }
  return {
    clock,
    links,
    last,
    states,
    frames,
    connection,
    welcome,
    setVerdict: (v: typeof verdict) => (verdict = v),
  }
}

const kinds = (states: ConnectionState[]) =>
  states.map((s) => (s.kind === 'reconnecting' ? `reconnecting:${s.phase}` : s.kind))

describe('Connection', () => {
  it('goes connecting → open on welcome after sending hello', async () => {
    const { connection, welcome, last, states } = setup()
    connection.start()
    await welcome()
    expect(last().sent).toEqual([{ t: 'hello', token: 't' }])
    expect(kinds(states)).toEqual(['connecting', 'open'])
    expect(connection.state).toMatchObject({ kind: 'open', clientId: 'c1', heartbeatMs: 1000 })
  })

  it('reconnects with growing jittered backoff after failures', async () => {
    const { connection, links, last, clock, states } = setup()
    connection.start()
    last().handlers.onClose({ code: 1006, reason: '' })
    expect(connection.state).toMatchObject({
      kind: 'reconnecting',
      phase: 'waiting',
      retryInMs: 500,
    })
    clock.advance(500)
    expect(links).toHaveLength(2)
    last().handlers.onClose({ code: 1006, reason: '' })
    expect(connection.state).toMatchObject({ retryInMs: 1000 })
    clock.advance(1000)
    last().handlers.onClose({ code: 1006, reason: '' })
    expect(connection.state).toMatchObject({ retryInMs: 2000 })
    expect(kinds(states).slice(0, 3)).toEqual([
      'connecting',
      'reconnecting:waiting',
      'reconnecting:dialing',
    ])
  })

  it('caps the backoff', () => {
    const { connection, last, clock } = setup()
    connection.start()
    for (let i = 0; i < 10; i++) {
      last().handlers.onClose({ code: 1006, reason: '' })
      clock.advance(10_000)
    }
    last().handlers.onClose({ code: 1006, reason: '' })
    expect(connection.state).toMatchObject({ retryInMs: 4000 })
  })

  it('resets the backoff after a successful welcome', async () => {
    const { connection, last, clock, welcome } = setup()
    connection.start()
    last().handlers.onClose({ code: 1006, reason: '' })
    clock.advance(500)
    last().handlers.onClose({ code: 1006, reason: '' })
    clock.advance(1000)
    await welcome()
    last().handlers.onClose({ code: 1006, reason: '' })
    expect(connection.state).toMatchObject({ attempt: 1, retryInMs: 500 })
  })

  it('ignores callbacks from a replaced link (stale generation)', async () => {
    const { connection, links, last, clock, welcome } = setup()
    connection.start()
    const old = last()
    old.handlers.onClose({ code: 1006, reason: '' })
    clock.advance(500)
    await welcome()
    old.handlers.onClose({ code: 1006, reason: '' })
    old.handlers.onFrame({ t: 'pong' })
    expect(connection.state.kind).toBe('open')
    expect(links).toHaveLength(2)
  })

  it('detects a blackholed link within 1.125 heartbeat intervals and dials again', async () => {
    const { connection, links, clock, welcome } = setup()
    connection.start()
    await welcome()
    clock.advance(1125)
    expect(links[0]!.sent.filter((f) => f.t === 'ping')).toHaveLength(1)
    expect(links[0]!.closed).toBe(true)
    expect(connection.state).toMatchObject({
      kind: 'reconnecting',
      cause: { code: 'HEARTBEAT_TIMEOUT' },
    })
  })

  it('times out a link that never sends welcome', () => {
    const { connection, clock } = setup()
    connection.start()
    clock.advance(5000)
    expect(connection.state).toMatchObject({ kind: 'reconnecting', phase: 'waiting' })
  })

  it('waits for the goaway hint, jittered, before reconnecting', async () => {
    const { connection, welcome, last, links, clock } = setup()
    connection.start()
    await welcome()
    last().handlers.onFrame({ t: 'goaway', retryAfterMs: 2000 })
    last().handlers.onClose({ code: 1001, reason: '' })
    expect(connection.state).toMatchObject({ retryInMs: 3000 })
    clock.advance(2999)
    expect(links).toHaveLength(1)
    clock.advance(1)
    expect(links).toHaveLength(2)
  })

  it('goes offline without retrying and dials at once when back online', async () => {
    const { connection, welcome, links, clock, states } = setup()
    connection.start()
    await welcome()
    connection.networkChanged(false)
    expect(connection.state.kind).toBe('offline')
    clock.advance(60_000)
    expect(links).toHaveLength(1)
    connection.networkChanged(true)
    expect(links).toHaveLength(2)
    expect(kinds(states)).toEqual(['connecting', 'open', 'offline', 'reconnecting:dialing'])
  })

  it('retries at once on wake instead of waiting out the backoff', () => {
    const { connection, last, links } = setup()
    connection.start()
    last().handlers.onClose({ code: 1006, reason: '' })
    connection.wake()
    expect(links).toHaveLength(2)
  })

  it('replaces a link whose server went silent while the device slept', async () => {
    const { connection, welcome, clock, links } = setup()
    connection.start()
    await welcome()
    clock.jump(120_000)
    connection.wake()
    expect(links[0]!.closed).toBe(true)
    expect(connection.state.kind).toBe('reconnecting')
  })

  it('closes for good on a fatal hello error', async () => {
    const { connection, last, setVerdict } = setup()
    setVerdict('fatal')
    connection.start()
    last().handlers.onOpen()
    await Promise.resolve()
    last().handlers.onFrame({ t: 'error', code: 'UNAUTHENTICATED', message: 'no' })
    expect(connection.state).toMatchObject({ kind: 'closed', error: { message: 'no' } })
    const { error } = connection.state as { error?: Error }
    expect(error).toBeInstanceOf(SeqlineError)
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED' })
  })

  it('leaves nothing scheduled after close', async () => {
    const { connection, welcome, clock, last } = setup()
    connection.start()
    await welcome()
    connection.close()
    expect(clock.pending).toBe(0)
    expect(last().closed).toBe(true)
    expect(connection.state.kind).toBe('closed')
  })

  it('forwards frames other than pong and goaway once open', async () => {
    const { connection, welcome, last, frames } = setup()
    connection.start()
    await welcome()
    last().handlers.onFrame({ t: 'pong' })
    last().handlers.onFrame({ t: 'caughtUp', stream: 's', epoch: 'e', head: 0, recovered: false })
    expect(frames.map((f) => f.t)).toEqual(['caughtUp'])
  })

  it('reports a transport that changes its mode while open, as a state change open → open', async () => {
    const { connection, welcome, last, states } = setup()
    connection.start()
    await welcome()
    last().handlers.onTransportChange?.('long-poll')
    expect(kinds(states)).toEqual(['connecting', 'open', 'open'])
    expect(connection.state).toMatchObject({ kind: 'open', transport: 'long-poll' })
  })
})
