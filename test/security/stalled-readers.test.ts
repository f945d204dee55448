import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes, sampleResidentBytes } from '../support/process-memory.js'
import type { ServerProcess } from '../support/server-process.js'
import {
  type StalledRead,
  readSseToHead,
  stalledHttpRead,
  stalledSubscriber,
  startReaderServer,
} from '../support/stalled-reads.js'
import type { TcpWsClient } from '../support/tcp-ws-client.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'

// F2: readers that ask for a large stream and never read must cost the server a position, not a
// copy of the stream. Every live read — SSE, long-poll, WebSocket — runs on the cursor pump, which
// stops at the high-water mark until the socket drains. Before, five stalled SSE readers of a
// 40 MB stream made the server grow by 575 MB while WebSocket readers cost nothing.
//
// The figures on a 2-core machine (SQLite, 10,000 messages of 4 KB, 5 SSE + 5 long-poll + 5
// WebSocket stalled readers, two full reads by another client meanwhile): the server grew by
// 40–50 MB with the pump (kernel socket buffers, one high-water mark per reader, the chunk cache);
// with SSE buffered in user space it grew by more than 500 MB.

const MB = 1024 * 1024
const MESSAGES = 10_000
const MESSAGE_CHARS = 4_000
const PER_APPEND = 500
const STREAM = 'room:archive'
const GROWTH_BOUND = 120 * MB
const READERS = 5

/** Reads the whole stream over WebSocket: the server has served 40 MB by the time it resolves. */
async function readEverything(wsUrl: string): Promise<number> {
  const { client } = await greet(wsUrl, { token: 'auditor' })
  const { msgs } = await subscribeUntilCaughtUp(client, STREAM, 'earliest', 60_000)
  await client.close()
  return msgs.length
}

// RSS comes from /proc/<pid>/status: Linux only.
describe.skipIf(residentBytes(process.pid) === undefined)('stalled live readers (F2)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startReaderServer(STREAM, 4 * MB)
    for (let i = 0; i < MESSAGES; i += PER_APPEND) {
      // A JSON array appends one message per element.
      const values = Array.from({ length: PER_APPEND }, (_, j) =>
        `${i + j}:`.padEnd(MESSAGE_CHARS, 'x'),
      )
      const res = await fetch(`${server.url}/v1/stream/${STREAM}`, {
        method: 'POST',
        headers: { authorization: 'Bearer archivist', 'content-type': 'application/json' },
        body: JSON.stringify(values),
      })
      expect(res.status).toBe(204)
    }
  }, 120_000)
  afterAll(() => server?.dispose())

  it('keeps memory flat for SSE, long-poll and WebSocket readers that never read', async () => {
    // A full read first, so the database pages it maps count in the baseline.
    expect(await readEverything(server.wsUrl)).toBe(MESSAGES)
    const baseline = residentBytes(server.pid) ?? 0
    const sampler = sampleResidentBytes(server.pid, 25)

    const sse: StalledRead[] = []
    const polls: StalledRead[] = []
    const subscribers: TcpWsClient[] = []
    for (let i = 0; i < READERS; i += 1) {
      sse.push(
        await stalledHttpRead(server.url, `/v1/stream/${STREAM}?offset=-1&live=sse`, `sse-${i}`),
      )
      polls.push(
        await stalledHttpRead(
          server.url,
          `/v1/stream/${STREAM}?offset=-1&live=long-poll`,
          `poll-${i}`,
        ),
      )
      subscribers.push(await stalledSubscriber(server.wsUrl, `ws-${i}`, STREAM))
    }
    // While they stall, the server serves the whole stream to a reader that reads: everything
    // the stalled readers could have been handed was within reach meanwhile.
    expect(await readEverything(server.wsUrl)).toBe(MESSAGES)
    expect(await readEverything(server.wsUrl)).toBe(MESSAGES)
    const samples = sampler.stop()
    const growth = Math.max(...samples) - baseline
    if (process.env.SEQLINE_TEST_REPORT !== undefined) {
      console.info(
        `stalled readers: baseline ${(baseline / MB).toFixed(1)} MB, ` +
          `growth ${(growth / MB).toFixed(1)} MB, ${samples.length} samples`,
      )
    }
    expect(growth).toBeLessThan(GROWTH_BOUND)

    // Held back, not dropped: a stalled SSE reader that reads again gets every message.
    expect(await readSseToHead(sse[0] as StalledRead)).toEqual(
      Array.from({ length: MESSAGES }, (_, i) => i),
    )
    for (const { socket } of [...sse, ...polls]) socket.destroy()
    for (const client of subscribers) client.destroy()
  }, 180_000)
})
