import type { Message, Position, SeqlineClient, WebSocketConstructor } from '@seqline/client'
import { FileStorage, MemoryStorage, offsetToPosition } from '@seqline/client'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { seededRandom } from '../support/seeded-random.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { readJsonStream } from '../support/stream-reader.js'
import { createTempDir } from '../support/temp-dir.js'
import {
  ClientHarness,
  condition,
  killableClock,
  range,
  trackedWebSocket,
  type TransportMode,
  whenOpen,
} from './client-harness.js'

// Acceptance of the client SDK against a real `seqline serve` process (issue "Seqline client SDK"),
// once per transport. Faults are injected at the TCP level: sockets cut without a close frame, a TCP
// proxy that blackholes or refuses. Assertions are about what the application callbacks saw —
// every message exactly once, in order — never about timings, except the heartbeat bound.

const NO_RATE_LIMIT = ['--publish-rate', '1000000', '--publish-burst', '1000000']

let server: ServerProcess | undefined
let harness: ClientHarness | undefined
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  await harness?.dispose()
  harness = undefined
  for (const cleanup of cleanups.splice(0)) await cleanup()
  await server?.dispose()
  server = undefined
})

async function start(mode: TransportMode, args: readonly string[] = []): Promise<ClientHarness> {
  server = await startServerProcess({ args: [...NO_RATE_LIMIT, ...args] })
  harness = new ClientHarness(mode, server.url, server.port)
  return harness
}

describe.each<TransportMode>(['websocket', 'http'])('the client over %s', (mode) => {
  it('delivers 10,000 messages exactly once, in order, to 20 clients whose sockets are cut at random', async () => {
    const h = await start(mode)
    const total = 10_000
    const readers = 20
    const random = seededRandom(20_240_611)
    const stream = 'room:chaos'
    const seen: number[][] = range(0, readers).map(() => [])
    const done = condition(() => seen.every((list) => list.length >= total))
    const cuts: (() => void)[] = []
    let cutCount = 0
    const clients: SeqlineClient[] = []
    for (let i = 0; i < readers; i++) {
      let client: SeqlineClient
      if (mode === 'websocket') {
        const tracked = trackedWebSocket()
        client = h.client({ token: `reader-${i}`, WebSocket: tracked.WebSocket })
        cuts.push(() => {
          if (tracked.destroy()) cutCount += 1
        })
      } else {
        // Over HTTP the session's requests (the event read, the POSTs) are cut, RST, at the
        // proxy; the read resumes on the same session, or a new session resumes from positions.
        const proxy = await h.proxy()
        client = h.client({ token: `reader-${i}`, url: proxy.url })
        cuts.push(() => {
          if (proxy.connectionCount > 0) cutCount += 1
          proxy.resetAll()
        })
      }
      const list = seen[i]!
      client.stream<number>(stream).subscribe({
        from: 'earliest',
        onMessage: (m) => {
          list.push(m.data)
          done.changed()
        },
      })
      clients.push(client)
    }
    await Promise.all(
      clients.map((c) =>
        c
          .stream(stream)
          .position()
          .then(() => whenOpen(c)),
      ),
    )

    // Each reader loses its connection every 0.3–1.5 s, from a seeded schedule.
    let chaos = true
    const timers = new Set<ReturnType<typeof setTimeout>>()
    const schedule = (cut: () => void): void => {
      const timer = setTimeout(
        () => {
          timers.delete(timer)
          if (!chaos) return
          cut()
          schedule(cut)
        },
        300 + random() * 1200,
      )
      timers.add(timer)
    }
    cuts.forEach(schedule)
    cleanups.push(async () => {
      chaos = false
      for (const timer of timers) clearTimeout(timer)
    })

    // The publisher stays on WebSocket: it is not under test here, the readers are.
    const publisher = h.client({ token: 'publisher', transport: 'websocket', maxInFlight: 256 })
    const room = publisher.stream<number>(stream)
    for (let i = 0; i < total; i += 500) {
      await Promise.all(range(i, Math.min(total, i + 500)).map((n) => room.publish(n)))
      // Spread the publishing over a few seconds: on a fast machine 10,000 messages would all be
      // delivered before some readers had their first cut (at 0.3–1.5 s), and the run would
      // prove less than it claims.
      await new Promise((resolve) => setTimeout(resolve, 120))
    }
    await done.reached
    chaos = false
    expect(cutCount).toBeGreaterThanOrEqual(readers)
    const expected = range(0, total)
    for (const list of seen) expect(list).toEqual(expected)
  })

  it('replaces a blackholed connection within two heartbeat intervals and loses nothing', async () => {
    const heartbeatMs = 500
    // Over HTTP too the client pings (a POST) every half interval and hears the pong on the read.
    const h = await start(mode, ['--heartbeat-ms', String(heartbeatMs)])
    const proxy = await h.proxy()
    const stream = 'room:blackhole'
    const seen: number[] = []
    const got = (n: number) => condition(() => seen.length >= n)
    let progress = got(20)
    const reader = h.client({
      token: 'reader',
      url: proxy.url,
      heartbeatMs,
      backoff: { baseMs: 100, maxMs: 1000 },
    })
    const opened: number[] = []
    const lost: number[] = []
    reader.on('state', ({ from, to }) => {
      if (to.kind === 'open') opened.push(Date.now())
      if (from.kind === 'open') lost.push(Date.now())
    })
    await reader.stream<number>(stream).subscribe({
      from: 'earliest',
      onMessage: (m) => {
        seen.push(m.data)
        progress.changed()
      },
    }).ready
    const publisher = h.client({ token: 'publisher', transport: 'websocket' })
    const room = publisher.stream<number>(stream)
    await Promise.all(range(0, 20).map((n) => room.publish(n)))
    await progress.reached

    const opensBefore = opened.length
    const blackholedAt = Date.now()
    proxy.blackhole()
    progress = got(40)
    await Promise.all(range(20, 40).map((n) => room.publish(n)))
    await progress.reached
    const replacedAt = opened[opensBefore]
    expect(replacedAt).toBeDefined()
    expect(lost.at(-1)! - blackholedAt).toBeLessThanOrEqual(2 * heartbeatMs)
    // Over HTTP a redial is a hello round trip (`POST /v1/sessions`) plus a new event read, which a
    // loaded 2-core machine may stretch: detection keeps the bound, replacement gets slack.
    const redialMs = mode === 'http' ? 500 : 0
    expect(replacedAt! - blackholedAt).toBeLessThanOrEqual(2 * heartbeatMs + redialMs)
    expect(seen).toEqual(range(0, 40))
  })

  it('commits 100 publishes queued while the server is unreachable exactly once, in order', async () => {
    const h = await start(mode)
    const proxy = await h.proxy()
    proxy.refuse()
    const client = h.client({ token: 'writer', url: proxy.url })
    const room = client.stream<number>('room:offline')
    const results = range(0, 100).map((n) => room.publish(n))
    await client.ready()
    await proxy.nextConnection() // it tries, and is refused
    expect(client.pendingPublishes).toBe(100)
    proxy.refuse(false)
    const offsets = (await Promise.all(results)).map((r) => r.offset)
    expect(offsets).toEqual(range(1, 101))
    expect((await readJsonStream(server!.url, 'room:offline')).values).toEqual(range(0, 100))
  })

  it('re-sends the pending publishes of a reloaded client from storage without duplicates', async () => {
    const h = await start(mode)
    const dir = await createTempDir('seqline-client-')
    cleanups.push(() => dir.remove())
    const proxy = await h.proxy()
    // The first page: its publishes reach the server, but no answer comes back.
    const clock = killableClock()
    const tracked = trackedWebSocket()
    const first = h.client({
      token: 'writer',
      url: proxy.url,
      storage: new FileStorage(dir.path),
      clock,
      WebSocket: tracked.WebSocket,
      maxInFlight: 64,
    })
    await whenOpen(first)
    await fetch(`${server!.url}/v1/stream/room:reload`, {
      method: 'PUT',
      headers: { authorization: 'Bearer writer', 'content-type': 'application/json' },
    })
    proxy.blackhole('to-client', { sticky: true })
    const room = first.stream<number>('room:reload')
    for (const n of range(0, 100)) room.publish(n).catch(() => {})
    const committed = async () => (await readJsonStream(server!.url, 'room:reload')).values.length
    // Over HTTP one POST at a time: the first batch is committed, its answer never comes back, and
    // the rest waits behind it.
    await expect
      .poll(committed, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(mode === 'http' ? 1 : 64)
    await expect
      .poll(async () =>
        (await new FileStorage(dir.path).keys('')).filter((k) => k.includes('/ob/')),
      )
      .toHaveLength(100)
    // The reload: the page's timers and sockets die with it; close() never runs.
    clock.kill()
    proxy.restore()
    proxy.resetAll()

    const second = h.client({ token: 'writer', storage: new FileStorage(dir.path) })
    await second.ready()
    expect(second.pendingPublishes).toBe(100)
    await second.flushed()
    expect(second.clientId).toBe(first.clientId)
    expect((await readJsonStream(server!.url, 'room:reload')).values).toEqual(range(0, 100))
    await expect(second.stream('room:reload').publish(100)).resolves.toMatchObject({
      offset: 101,
    })
  })

  it('resyncs from a slow HTTP snapshot after a reset, applying live messages exactly once', async () => {
    const h = await start(mode, ['--retention-max-count', '5', '--retention-interval-ms', '100'])
    const stream = 'room:snapshot'
    const storage = new MemoryStorage()
    const publisher = h.client({ token: 'publisher', transport: 'websocket' })
    const room = publisher.stream<number>(stream)

    // A first session processes 0..9, then the page goes away.
    const early: number[] = []
    const first = h.client({ token: 'reader', storage })
    const tenth = condition(() => early.length === 10)
    first.stream<number>(stream).subscribe({
      from: 'earliest',
      onMessage: (m) => {
        early.push(m.data)
        tenth.changed()
      },
    })
    await whenOpen(first)
    await first.stream(stream).position()
    await Promise.all(range(0, 10).map((n) => room.publish(n)))
    await tenth.reached
    await first.close()

    // Meanwhile retention trims what it would need to resume.
    await Promise.all(range(10, 40).map((n) => room.publish(n)))
    await expect
      .poll(async () => (await readJsonStream<number>(server!.url, stream)).values[0], {
        timeout: 10_000,
      })
      .toBeGreaterThan(11)

    type Snapshot = { position: Position; items: number[] }
    const events: string[] = []
    // The app's state: replaced by each snapshot, then extended by each message.
    let state: number[] = []
    const finished = condition(() => state.at(-1) === 59)
    const second = h.client({ token: 'reader', storage })
    second.stream<number>(stream).subscribe<Snapshot>({
      onMessage: (m: Message<number>) => {
        state.push(m.data)
        finished.changed()
      },
      snapshot: async (reset) => {
        events.push(`snapshot:${reset.reason}`)
        // Live messages committed before and after the snapshot's read: the first ones are in the
        // snapshot and must not be applied again, the others must be applied once.
        await Promise.all(range(40, 45).map((n) => room.publish(n)))
        const { values, nextOffset } = await readJsonStream<number>(server!.url, stream)
        await Promise.all(range(45, 50).map((n) => room.publish(n)))
        await new Promise((resolve) => setTimeout(resolve, 200)) // a slow app server
        return { position: offsetToPosition(nextOffset)!, items: values }
      },
      onReset: (event) => {
        events.push(`reset:${event.reason}`)
        state = [...(event.snapshot?.items ?? [])]
        finished.changed()
      },
    })
    await expect.poll(() => events, { timeout: 10_000 }).toContain('reset:truncated')
    await Promise.all(range(50, 60).map((n) => room.publish(n)))
    await finished.reached

    // An HTTP session subscribes like a WebSocket: retention waits for it as well.
    expect(events).toEqual(['snapshot:truncated', 'reset:truncated'])
    expect(state).toEqual(range(state[0]!, 60))
  })
})

describe('the automatic transport', () => {
  it('falls back to HTTP when the WebSocket cannot connect but the server answers HTTP', async () => {
    const h = await start('websocket')
    // A WebSocket that never gets through (a proxy that drops upgrades): it dials a closed port.
    class Blocked extends WebSocket {
      constructor(_url: string) {
        super('ws://127.0.0.1:1/v1/ws')
      }
    }
    const client = h.client({
      token: 'alice',
      transport: 'auto',
      WebSocket: Blocked as unknown as WebSocketConstructor,
    })
    const seen: number[] = []
    const got = condition(() => seen.length === 3)
    const sub = client.stream<number>('room:fallback').subscribe({
      from: 'earliest',
      onMessage: (m) => {
        seen.push(m.data)
        got.changed()
      },
    })
    await sub.ready
    expect(client.state).toMatchObject({ kind: 'open', transport: 'sse' })
    for (const n of [1, 2, 3]) await client.stream<number>('room:fallback').publish(n)
    await got.reached
    expect(seen).toEqual([1, 2, 3])
  })

  it('continues a WebSocket producer over HTTP, so a retry through the other door is no duplicate', async () => {
    const h = await start('websocket')
    const storage = new MemoryStorage()
    const proxy = await h.proxy()
    const clock = killableClock()
    const first = h.client({ token: 'writer', url: proxy.url, storage, clock })
    await whenOpen(first)
    proxy.blackhole('to-client', { sticky: true })
    for (const n of range(0, 10))
      first
        .stream<number>('room:doors')
        .publish(n)
        .catch(() => {})
    await expect
      .poll(
        async () =>
          (await readJsonStream(server!.url, 'room:doors').catch(() => ({ values: [] }))).values,
      )
      .toHaveLength(10)
    clock.kill()
    proxy.restore()
    proxy.resetAll()
    const second = h.client({ token: 'writer', storage, transport: 'http' })
    await second.ready()
    expect(second.pendingPublishes).toBe(10)
    const outcomes: boolean[] = []
    second.on('published', (e) => {
      if (e.outcome.kind === 'committed') outcomes.push(e.outcome.result.duplicate)
    })
    await second.flushed()
    expect(outcomes).toEqual(range(0, 10).map(() => true))
    expect((await readJsonStream(server!.url, 'room:doors')).values).toEqual(range(0, 10))
  })
})
