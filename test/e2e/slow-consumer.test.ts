import type { ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes, sampleResidentBytes } from '../support/process-memory.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { connectTcpWs } from '../support/tcp-ws-client.js'
import { greet, publishMany, range } from '../support/wire-session.js'

// G6 Bounded memory: a consumer that stops reading costs the server a position, not a buffer.
// While 100,000 messages go to a stalled subscriber, the server's resident memory stays bounded;
// when the subscriber reads again it gets every message, in order, exactly once.
//
// Why payloads of ~420 bytes rather than ~30: the kernel absorbs ~4 MB of the backlog (the
// server's socket send buffer), and the server's RSS varies by ±20 MB between runs with the
// publishing load alone. With 30-byte payloads (≈150-byte frames) a server that buffered the
// whole backlog measured 212–230 MB against 183–211 MB for the real one: no bound can tell them
// apart. With these payloads (≈560-byte frames, a 56 MB backlog) the server grows, from a baseline
// of ≈ 85 MB on a 2-core machine, by 120–145 MB with the cursor pump's high-water mark (a peak of
// 266 MB once, with the rest of the suite running beside it) and by ≈ 280 MB with the high-water
// mark out of the way (`--high-water-mark 1073741824`: everything buffered in user space). The
// bound sits in between, on the growth: the baseline moves with the server's code and the machine.

const COUNT = 100_000
const MB = 1024 * 1024
const GROWTH_BOUND = 220 * MB
const STREAM = 'room:firehose'
const PAD = 'x'.repeat(400)

// RSS comes from /proc/<pid>/status: Linux only.
describe.skipIf(residentBytes(process.pid) === undefined)('slow consumer (G6)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        '--publish-rate',
        '1000000',
        '--publish-burst',
        '1000000',
        // The stalled subscriber cannot answer protocol pings while it does not read; the test is
        // about buffering, not about the heartbeat dropping it.
        '--heartbeat-ms',
        '300000',
      ],
    })
  })
  afterAll(() => server?.dispose())

  it('keeps memory bounded for a stalled subscriber and then delivers every message once', async () => {
    const slow = await connectTcpWs(server.wsUrl)
    let expected = 1
    let received = 0
    const problems: ServerFrame[] = []
    let allReceived: () => void = () => undefined
    const done = new Promise<void>((resolve) => (allReceived = resolve))
    slow.onFrame((frame) => {
      if (frame.t === 'msg') {
        if (frame.offset !== expected) problems.push(frame)
        expected = frame.offset + 1
        received += 1
        if (received === COUNT) allReceived()
      } else if (frame.t === 'reset' || frame.t === 'error') {
        problems.push(frame)
      }
    })
    const welcome = slow.next('welcome')
    slow.send({ t: 'hello', token: 'slow' })
    await welcome
    const caughtUp = slow.next('caughtUp')
    slow.send({ t: 'sub', stream: STREAM, from: 'latest' })
    await caughtUp
    slow.pause()

    const baseline = residentBytes(server.pid) ?? 0
    const sampler = sampleResidentBytes(server.pid, 25)
    const started = Date.now()
    const { client: producer } = await greet(server.wsUrl, { token: 'firehose' })
    const replies = await publishMany(producer, {
      stream: STREAM,
      epoch: 0,
      seqs: range(0, COUNT),
      data: (seq) => ({ n: seq, pad: PAD }),
      window: 2_000,
      timeoutMs: 60_000,
    })
    const samples = sampler.stop()
    expect(replies.filter((r) => r.t !== 'puback')).toEqual([])
    // It really was stalled: nearly everything is still to be delivered.
    expect(received).toBeLessThan(COUNT / 10)
    const peak = Math.max(...samples)
    expect(samples.length).toBeGreaterThan(10)
    expect(peak - baseline).toBeLessThan(GROWTH_BOUND)

    slow.resume()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${received} of ${COUNT} received`)), 60_000)
      }),
    ]).finally(() => clearTimeout(timer))
    if (process.env.SEQLINE_TEST_REPORT !== undefined) {
      console.info(
        `slow consumer: server RSS baseline ${(baseline / MB).toFixed(1)} MB, ` +
          `peak ${(peak / MB).toFixed(1)} MB (growth bound ${GROWTH_BOUND / MB} MB), ` +
          `${samples.length} samples, ${Date.now() - started} ms`,
      )
    }
    expect(problems).toEqual([])
    expect(received).toBe(COUNT)
    expect(expected).toBe(COUNT + 1)
    await producer.close()
    slow.destroy()
  })
})
