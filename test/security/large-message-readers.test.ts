import type { MsgFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes, sampleResidentBytes } from '../support/process-memory.js'
import type { ServerProcess } from '../support/server-process.js'
import {
  type StalledRead,
  readSseToHead,
  greetedTcpWs,
  stalledHttpRead,
  subscribeAndStall,
  startReaderServer,
} from '../support/stalled-reads.js'
import type { TcpWsClient } from '../support/tcp-ws-client.js'

// F2, large messages: a reader far behind on a stream of large messages must cost the server one
// page of bounded bytes, not one page of `pageSize` messages. The cursor pump stops at the
// high-water mark, but it read a page of 512 messages from the store before it wrote any: with
// 1 MB messages, every reader catching up pulled the whole stream (here 120 MB) into memory at
// once. Catch-up reads are now bounded by `--catch-up-page-bytes` too (the first message of a
// page is read whatever its size, so a reader always progresses).
//
// The figures on a 2-core machine (SQLite, 120 messages of 1 MB, 4 WebSocket + 4 SSE + 2 catch-up
// readers that stall, then a full read by another client): the server grew by about 70–100 MB with
// byte-bounded pages, by 1.1 GB with count-bounded ones.

const MB = 1024 * 1024
const MESSAGES = 120
const MESSAGE_CHARS = 1_000_000
const STREAM = 'room:large'
const GROWTH_BOUND = 200 * MB
const READERS = 4

function value(i: number): string {
  return `${i}:`.padEnd(MESSAGE_CHARS, 'x')
}

/**
 * Reads the whole stream over WebSocket, checking each message's offset and content as it arrives
 * (without keeping them); resolves with how many arrived once the subscription is caught up.
 */
async function readEverything(wsUrl: string): Promise<number> {
  const client = await greetedTcpWs(wsUrl, 'auditor')
  try {
    let count = 0
    const problems: string[] = []
    const stop = client.onFrame((frame) => {
      if (frame.t !== 'msg' || frame.stream !== STREAM) return
      const { offset, data } = frame as MsgFrame
      if (offset !== count + 1) problems.push(`offset ${offset} after ${count}`)
      else if (data !== value(count)) problems.push(`wrong payload at offset ${offset}`)
      count += 1
    })
    const caughtUp = client.next(
      (frame) => frame.t === 'caughtUp' && frame.stream === STREAM,
      120_000,
    )
    client.send({ t: 'sub', stream: STREAM, from: 'earliest' })
    await caughtUp
    stop()
    expect(problems).toEqual([])
    return count
  } finally {
    client.destroy()
  }
}

// RSS comes from /proc/<pid>/status: Linux only.
describe.skipIf(residentBytes(process.pid) === undefined)(
  'stalled readers of large messages (F2)',
  () => {
    let server: ServerProcess

    beforeAll(async () => {
      server = await startReaderServer(STREAM, 2 * MB)
      for (let i = 0; i < MESSAGES; i += 1) {
        const res = await fetch(`${server.url}/v1/stream/${STREAM}`, {
          method: 'POST',
          headers: { authorization: 'Bearer archivist', 'content-type': 'application/json' },
          body: JSON.stringify(value(i)),
        })
        expect(res.status).toBe(204)
      }
    }, 180_000)
    afterAll(() => server?.dispose())

    it('keeps memory bounded for WebSocket, SSE and catch-up readers far behind', async () => {
      // A full read first, so the database pages it maps count in the baseline.
      expect(await readEverything(server.wsUrl)).toBe(MESSAGES)
      const baseline = residentBytes(server.pid) ?? 0
      const sampler = sampleResidentBytes(server.pid, 20)

      const clients: TcpWsClient[] = []
      for (let i = 0; i < READERS; i += 1) clients.push(await greetedTcpWs(server.wsUrl, `ws-${i}`))
      // All at once, so that their first pages are read together.
      const [subscribers, sse, catchUps] = await Promise.all([
        Promise.all(clients.map((client) => subscribeAndStall(client, STREAM, 120_000))),
        Promise.all(
          Array.from({ length: READERS }, (_, i) =>
            stalledHttpRead(server.url, `/v1/stream/${STREAM}?offset=-1&live=sse`, `sse-${i}`),
          ),
        ),
        Promise.all(
          Array.from({ length: 2 }, (_, i) =>
            stalledHttpRead(server.url, `/v1/stream/${STREAM}?offset=-1`, `catch-up-${i}`),
          ),
        ),
      ])
      // While they stall, the server serves the whole stream to a reader that reads.
      expect(await readEverything(server.wsUrl)).toBe(MESSAGES)
      const samples = sampler.stop()
      const growth = Math.max(...samples) - baseline
      if (process.env.SEQLINE_TEST_REPORT !== undefined) {
        console.info(
          `large-message readers: baseline ${(baseline / MB).toFixed(1)} MB, ` +
            `growth ${(growth / MB).toFixed(1)} MB, ${samples.length} samples`,
        )
      }
      expect(growth).toBeLessThan(GROWTH_BOUND)

      // Held back, not dropped: a stalled SSE reader that reads again gets every message, in order.
      expect(await readSseToHead(sse[0] as StalledRead)).toEqual(
        Array.from({ length: MESSAGES }, (_, i) => i),
      )
      for (const { socket } of [...sse, ...catchUps]) socket.destroy()
      for (const client of subscribers) client.destroy()
    }, 300_000)
  },
)
