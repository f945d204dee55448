import { request } from 'node:http'
import { ErrorCode, httpStatusOf } from '@seqline/protocol'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { residentBytes } from '../support/process-memory.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { range, readStream } from '../support/wire-session.js'

// Fuzzing the HTTP side of a live server process: Durable Streams requests under /v1/stream/<name>
// (methods, offsets, live modes, producer and stream headers, content types, bodies) and Seqline's
// own routes. Every answer must be a documented status with, for errors, a JSON body
// `{error: {code, message}}` whose code is one of ours and matches the status; never a 5xx, never
// a hang. `npm test` runs a sample; FUZZ_RUNS=100000 for the long profile, FUZZ_SEED to replay.
const runs = Number(process.env.FUZZ_HTTP_RUNS ?? process.env.FUZZ_RUNS ?? 1_500)
const seed = Number(process.env.FUZZ_SEED ?? 20_251_126)

const STREAMS = ['fuzz:http-a', 'fuzz:http-b'] as const
const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode))

interface FuzzRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  /** A body, or the size of an oversize one (kept short, so that counterexamples print short). */
  readonly body: string | { readonly oversize: number } | undefined
}

const token = fc.oneof(
  { weight: 6, arbitrary: fc.constant('fuzzer') },
  { weight: 1, arbitrary: fc.constantFrom('other', '', 'bad token', 'x'.repeat(300)) },
)
const streamSegment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...STREAMS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
  // Raw (unencoded) path text, as far as an HTTP client lets it through.
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).filter((s) => /^[\x21-\x7e]*$/.test(s)) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '..', '../etc', 'a/../../b', '%00') },
)
const offset = fc.oneof(
  fc.constantFrom('-1', 'now', '0', '', '00', 'abc', '-2', '999999999999999999999'),
  fc.nat().map(String),
  fc.string({ maxLength: 40 }),
)
const query = fc
  .record(
    {
      offset,
      live: fc.constantFrom('long-poll', 'sse', 'true', '', 'x'),
      cursor: fc.string({ maxLength: 20 }),
      limit: fc.oneof(fc.nat().map(String), fc.string({ maxLength: 5 })),
      before: fc.oneof(fc.nat().map(String), fc.string({ maxLength: 5 })),
    },
    { requiredKeys: [] },
  )
  // A live read of an empty stream waits for the long-poll timeout: keep them short-lived.
  .map((q) => new URLSearchParams(q as Record<string, string>).toString())

const headerValue = fc.oneof(
  fc.nat({ max: 5 }).map(String),
  fc.constantFrom('', '-1', '01', '1.5', '9007199254740993', 'abc', ' 1'),
  fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
)
const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/octet-stream',
      'application/json; charset=utf-8',
      '',
      'x/y',
    ),
    'producer-id': fc.oneof(fc.constantFrom('p1', 'p2'), headerValue),
    'producer-epoch': headerValue,
    'producer-seq': headerValue,
    'stream-seq': headerValue,
    'stream-ttl': headerValue,
    'stream-expires-at': fc.constantFrom(
      '2000-01-01T00:00:00Z',
      'tomorrow',
      '',
      '2999-01-01T00:00:00Z',
    ),
    'stream-closed': fc.constantFrom('true', 'false', 'x'),
    'if-none-match': fc.string({ maxLength: 10 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  },
  { requiredKeys: [] },
)
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('[]', '{', '', 'null', '[[]]'),
  fc.integer({ min: 70_000, max: 90_000 }).map((oversize) => ({ oversize })),
)

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        stream: streamSegment,
        query,
        headers,
        token,
        body: fc.option(body, { nil: undefined }),
      })
      .map((r) => ({
        method: r.method,
        path: `/v1/stream/${r.stream}${r.query === '' ? '' : `?${r.query}`}`,
        headers: { ...r.headers, authorization: `Bearer ${r.token}` },
        body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        method: fc.constantFrom('GET', 'POST', 'DELETE'),
        path: fc.oneof(
          fc.constantFrom(
            '/v1/clients',
            '/v1/clients/c_x/acks',
            '/v1/clients/c_x/cursors',
            '/v1/clients/c_x/secret',
            '/v1/clients/%/acks',
          ),
          streamSegment.map((s) => `/v1/history/${s}`),
          streamSegment.map((s) => `/v1/presence/${s}`),
          streamSegment.map((s) => `/v1/cursors/${s}`),
        ),
        token,
        body: fc.option(body, { nil: undefined }),
      })
      .map((r) => ({
        method: r.method,
        path: r.path,
        headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/json' },
        body: r.method === 'GET' ? undefined : r.body,
      })),
  },
)

/** Sends one request; resolves with status and body, rejects after `timeoutMs` (a hang). */
function send(
  port: number,
  r: FuzzRequest,
  timeoutMs: number,
): Promise<{ status: number; body: string; type: string }> {
  const body = typeof r.body === 'object' ? 'x'.repeat(r.body.oversize) : r.body
  // Always framed: Node's client sends an unframed body for DELETE and OPTIONS otherwise, which
  // the server then reads as a second, garbage request.
  const headers =
    body === undefined
      ? r.headers
      : { ...r.headers, 'content-length': String(Buffer.byteLength(body)) }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent: false },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
          // An SSE stream never ends by itself: its first bytes are answer enough.
          if (String(res.headers['content-type']).startsWith('text/event-stream')) res.destroy()
        })
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            type: String(res.headers['content-type'] ?? ''),
          })
        res.on('end', done)
        res.on('close', done)
      },
    )
    req.setTimeout(timeoutMs, () => {
      req.destroy()
      reject(new Error(`no answer within ${timeoutMs} ms: ${r.method} ${r.path}`))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('HTTP request fuzzing against a live server', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        '--long-poll-timeout-ms',
        '200',
        '--publish-rate',
        '1000000',
        '--publish-burst',
        '1000000',
      ],
    })
  })
  afterAll(() => server?.dispose())

  it(
    `answers ${runs} hostile requests with documented statuses and codes, and stays up`,
    async () => {
      let cases = 0
      let rssAfterWarmup: number | undefined
      const statuses = new Map<number, number>()
      await fc.assert(
        fc.asyncProperty(fuzzRequest, async (r) => {
          cases += 1
          if (cases === Math.min(300, Math.floor(runs / 10)))
            rssAfterWarmup = residentBytes(server.pid)
          const answer = await send(server.port, r, 5_000)
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
          const what = `${r.method} ${r.path} → ${answer.status} ${answer.body.slice(0, 200)}`
          expect(answer.status, what).toBeGreaterThanOrEqual(200)
          expect(answer.status, what).toBeLessThan(500)
          if (answer.status >= 400 && r.method !== 'HEAD') {
            let parsed: { error?: { code?: string; message?: string } } = {}
            try {
              parsed = JSON.parse(answer.body) as typeof parsed
            } catch {
              expect.fail(`an error without a JSON body: ${what}`)
            }
            const code = parsed.error?.code ?? ''
            expect(CODES.has(code), what).toBe(true)
            // The status is the code's (docs/protocol.md), except 405 for a method a route lacks.
            const status = answer.status === 405 && code === 'BAD_REQUEST' ? 400 : answer.status
            expect(httpStatusOf[code as ErrorCode], what).toBe(status)
            expect(parsed.error?.message ?? '', what).not.toMatch(/\n\s+at |node_modules/)
          }
        }),
        { numRuns: runs, seed, endOnFailure: true },
      )
      expect(() => process.kill(server.pid, 0)).not.toThrow()
      expect(server.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([])
      const rssAtEnd = residentBytes(server.pid)
      if (rssAfterWarmup !== undefined && rssAtEnd !== undefined) {
        expect(rssAtEnd - rssAfterWarmup).toBeLessThan(64 * 1024 * 1024)
      }
      // Whatever was appended over HTTP reads back gapless over WebSocket.
      for (const stream of STREAMS) {
        const { msgs, caughtUp } = await readStream(
          server.wsUrl,
          // Not 'fuzzer': the fuzzed POST /v1/clients may have used up its clients.
          'auditor',
          stream,
          'earliest',
          30_000,
        )
        const first = msgs[0]?.offset ?? caughtUp.head + 1
        expect(msgs.map((m) => m.offset)).toEqual(range(first, caughtUp.head - first + 1))
      }
      console.info(
        `http fuzz: ${cases} requests (seed ${seed}), statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
      )
    },
    Math.max(60_000, runs * 30),
  )
})
