import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes } from '../support/process-memory.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, publishMany, range, readStream } from '../support/wire-session.js'
import { FUZZ_STREAMS, fuzzCase } from './harness/frame-arbitraries.js'
import { NACK_CODES, expectedAnswer, mismatch } from './harness/frame-oracle.js'
import { FuzzConnection } from './harness/fuzz-connection.js'

// Fuzzing the WebSocket endpoint of a live server process (docs/reliability.md). `npm test` runs a
// bounded sample; the long profile is `FUZZ_RUNS=100000 npx vitest run test/fuzz/ws-frames.test.ts`.
// A failure prints fast-check's seed and path: replay with FUZZ_SEED=<seed>.
const runs = Number(process.env.FUZZ_RUNS ?? 3_000)
const seed = Number(process.env.FUZZ_SEED ?? 20_251_126)
const POOL = 4

const mib = (bytes: number | undefined): string =>
  bytes === undefined ? '?' : (bytes / 1024 / 1024).toFixed(1)

describe('WebSocket frame fuzzing against a live server', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        '--max-payload-bytes',
        '4096',
        '--max-streams-per-connection',
        '32',
        '--publish-rate',
        '1000000',
        '--publish-burst',
        '1000000',
      ],
    })
  })
  afterAll(() => server?.dispose())

  it(
    `answers ${runs} cases of hostile frames with stable codes, and stays up, bounded and gapless`,
    async () => {
      const pool: FuzzConnection[] = await Promise.all(
        range(0, POOL).map((i) => FuzzConnection.open(server.wsUrl, `fuzzer-${i}`)),
      )
      const warmup = Math.min(500, Math.floor(runs / 10))
      let rssAfterWarmup: number | undefined
      let cases = 0
      await fc.assert(
        fc.asyncProperty(fuzzCase, fc.nat(POOL - 1), async (frames, which) => {
          cases += 1
          if (cases === warmup) rssAfterWarmup = residentBytes(server.pid)
          let connection = pool[which] as FuzzConnection
          if (connection.closed) {
            connection = await FuzzConnection.open(server.wsUrl, `fuzzer-${which}`)
            pool[which] = connection
          }
          const answer = await connection.exchange(frames, String(cases))
          expect(answer.closed, 'the server closed a greeted connection').toBeUndefined()
          expect(answer.leaks).toEqual([])
          frames.forEach((frame, i) => {
            const problem = mismatch(expectedAnswer(frame), answer.perFrame[i] ?? [])
            expect(problem, JSON.stringify(frame).slice(0, 300)).toBeUndefined()
          })
          for (const code of answer.nacks) expect(NACK_CODES.has(code), code).toBe(true)
        }),
        { numRuns: runs, seed, endOnFailure: true },
      )
      for (const connection of pool) connection.close()

      // No crash, no unhandled rejection (Node 20 would have exited), nothing logged as an error.
      expect(() => process.kill(server.pid, 0)).not.toThrow()
      const errors = server.logs.filter((line) => /"level":(50|60)/.test(line))
      expect(errors).toEqual([])

      // No memory growth across the run, beyond noise (measured after a warm-up).
      const rssAtEnd = residentBytes(server.pid)
      if (rssAfterWarmup !== undefined && rssAtEnd !== undefined) {
        expect(rssAtEnd - rssAfterWarmup).toBeLessThan(64 * 1024 * 1024)
      }

      const heads: Record<string, number> = {}
      // State is consistent: every fuzzed stream still reads back gapless from 1 to its head, and
      // a well-behaved producer appends right after it.
      for (const stream of FUZZ_STREAMS) {
        const { msgs, caughtUp } = await readStream(
          server.wsUrl,
          'auditor',
          stream,
          'earliest',
          30_000,
        )
        expect(msgs.map((m) => m.offset)).toEqual(range(1, caughtUp.head))
        heads[stream] = caughtUp.head
        const { client } = await greet(server.wsUrl, { token: 'auditor' })
        const replies = await publishMany(client, {
          stream,
          epoch: 0,
          seqs: range(0, 5),
          data: (n) => ({ n }),
        })
        expect(replies.map((r) => (r.t === 'puback' ? r.offset : r.code))).toEqual(
          range(caughtUp.head + 1, 5),
        )
        await client.close()
      }
      // The figures quoted in docs/reliability.md.
      console.info(
        `ws fuzz: ${cases} cases (seed ${seed}), heads ${JSON.stringify(heads)}, RSS ${mib(rssAfterWarmup)} → ${mib(rssAtEnd)} MiB`,
      )
    },
    Math.max(60_000, runs * 20),
  )
})
