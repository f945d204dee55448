import { randomBytes } from 'node:crypto'
import { type Socket, connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes, sampleResidentBytes } from '../support/process-memory.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, publishMany, range } from '../support/wire-session.js'

// F8: WebSocket clients that never read used to grow the server's memory: pong, nack, error,
// caughtUp and presence frames were written whatever the client had left unread, and inbound
// frames were queued without bound (84 → 152 MB in 40 s). Now presence and signals are skipped
// above the high-water mark, inbound frames queue up to `--max-inbound-frames` and the socket is
// not read while the client leaves more than the high-water mark unread, and a connection whose
// unread bytes pass `--max-buffered-bytes` is cut with 4008 SLOW_CONSUMER.
//
// The figures on a 2-core machine: two clients flooding 32 MB of pings and of bad frames without
// reading grew the server by about 20 MB (700 MB in a minute without the bounds); a subscriber of
// a busy stream that never read, by about 20 MB (90 MB without them).

const MB = 1024 * 1024
const GROWTH_BOUND = 72 * MB
/** The floods take the first seconds of a fresh server: its heap settles meanwhile (+25–50 MB). */
const FLOOD_GROWTH_BOUND = 100 * MB

/** One client-to-server text frame, masked with a zero key (RFC 6455 §5.3 allows any key). */
function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  if (payload.byteLength >= 126) throw new Error('short frames only')
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.byteLength, 0, 0, 0, 0]), payload])
}

/** A WebSocket on a raw socket that never reads a byte after the upgrade. */
async function neverReading(wsUrl: string): Promise<Socket> {
  const url = new URL(wsUrl)
  const socket = connect({ host: url.hostname, port: Number(url.port) })
  socket.on('error', () => undefined)
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  const upgraded = new Promise<void>((resolve, reject) => {
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.pause()
      if (head.startsWith('HTTP/1.1 101')) resolve()
      else reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`))
    }
    socket.on('data', onData)
  })
  socket.write(
    `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  )
  await upgraded
  return socket
}

/** Writes `frame` repeatedly, `bytes` in all, without waiting for the server to take it. */
function flood(socket: Socket, frame: Buffer, bytes: number): void {
  const chunk = Buffer.concat(
    Array.from({ length: Math.floor(MB / frame.byteLength) }, () => frame),
  )
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) socket.write(chunk)
}

/**
 * How long the flood test watches the server. No event marks "the server has stopped reading and
 * will not grow": a server without these bounds kept reading what the kernel had buffered for
 * a minute and grew by 60–80 MB every 10 s meanwhile (700 MB in 60 s), a bounded one grew by
 * 25–50 MB within the first 15 s (its heap settling) and then not at all.
 */
const WATCH_MS = 20_000

// RSS comes from /proc/<pid>/status: Linux only.
describe.skipIf(residentBytes(process.pid) === undefined)('clients that never read (F8)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        // The non-reading clients cannot answer pings: this is about buffering, not heartbeats.
        '--heartbeat-ms',
        '300000',
        '--publish-rate',
        '1000000',
        '--publish-burst',
        '1000000',
        '--signal-rate',
        '1000000',
        '--signal-burst',
        '1000000',
      ],
    })
  })
  afterAll(() => server?.dispose())

  it('stops reading clients that flood pings or bad frames and read no answer', async () => {
    const pinger = await neverReading(server.wsUrl)
    const nagger = await neverReading(server.wsUrl)
    pinger.write(maskedFrame('{"t":"hello","token":"pinger"}'))
    nagger.write(maskedFrame('{"t":"hello","token":"nagger"}'))
    const baseline = residentBytes(server.pid) ?? 0
    const sampler = sampleResidentBytes(server.pid, 25)
    // Pings are answered with pongs, unsubscribing from nothing with an error each.
    flood(pinger, maskedFrame('{"t":"ping"}'), 32 * MB)
    flood(nagger, maskedFrame('{"t":"unsub","stream":"room:nothing"}'), 32 * MB)
    await delay(WATCH_MS)
    const growth = Math.max(...sampler.stop()) - baseline
    if (process.env.SEQLINE_TEST_REPORT !== undefined) {
      console.info(
        `floods: growth ${(growth / MB).toFixed(1)} MB, unsent ` +
          `${pinger.writableLength} and ${nagger.writableLength} bytes`,
      )
    }
    expect(growth).toBeLessThan(FLOOD_GROWTH_BOUND)
    // The server stopped reading them: most of each flood is still on the client's side.
    expect(pinger.writableLength).toBeGreaterThan(16 * MB)
    expect(nagger.writableLength).toBeGreaterThan(16 * MB)

    // Everyone else is served as usual meanwhile.
    const { client } = await greet(server.wsUrl, { token: 'bystander' })
    client.send({ t: 'ping' })
    await client.next('pong')
    await client.close()
    pinger.destroy()
    nagger.destroy()
  })

  it('keeps memory flat for a subscriber of a busy stream that never reads', async () => {
    const stream = 'room:busy'
    const { client: producer } = await greet(server.wsUrl, { token: 'producer' })
    producer.send({ t: 'sub', stream, from: 'latest' })
    await producer.next('caughtUp')
    const pad = 'x'.repeat(1_000)
    let seq = 0
    /** Messages, signals and presence changes on the stream. */
    const traffic = async (): Promise<void> => {
      for (const round of range(0, 5)) {
        const visitor = await greet(server.wsUrl, { token: `visitor-${round}` })
        visitor.client.send({ t: 'sub', stream, from: 'latest' })
        await visitor.client.next('caughtUp')
        for (const _ of range(0, 200)) producer.send({ t: 'signal', stream, data: { pad } })
        await publishMany(producer, {
          stream,
          epoch: 0,
          seqs: range(seq, 1_000),
          data: (n) => ({ n, pad }),
          window: 500,
        })
        seq += 1_000
        await visitor.client.close()
      }
    }
    // The same traffic once without the sleeper: the store's caches and the heap warm up.
    await traffic()

    const socket = await neverReading(server.wsUrl)
    socket.write(maskedFrame('{"t":"hello","token":"sleeper"}'))
    socket.write(maskedFrame(`{"t":"sub","stream":"${stream}","from":"latest"}`))
    await producer.next(
      (f) => f.t === 'presenceDiff' && f.changes.some((c) => c.user === 'sleeper' && c.clients > 0),
    )
    const baseline = residentBytes(server.pid) ?? 0
    const sampler = sampleResidentBytes(server.pid, 25)
    // The sleeper also sends frames whose answers (errors) it never reads.
    flood(socket, maskedFrame('{"t":"unsub","stream":"room:nothing"}'), 16 * MB)
    await traffic()
    const unsent = socket.writableLength
    const growth = Math.max(...sampler.stop()) - baseline
    if (process.env.SEQLINE_TEST_REPORT !== undefined) {
      console.info(`busy stream: growth ${(growth / MB).toFixed(1)} MB, unsent ${unsent} bytes`)
    }
    expect(growth).toBeLessThan(GROWTH_BOUND)
    // Either it was cut (SLOW_CONSUMER) or the server stopped reading its frames.
    expect(socket.destroyed || unsent > 8 * MB).toBe(true)
    socket.destroy()
    await producer.close()
  })
})
