import { afterAll, beforeAll, describe } from 'vitest'
import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'

// The official Durable Streams conformance suite (DESIGN §6), against a real `seqline serve`
// process on SQLite. The suite sends no credentials, so this server runs with `--auth none`
// (every request is user `anonymous`); auth on these routes is tested in auth.test.ts.
// - `--long-poll-timeout-ms 4000`: the suite waits out a few empty long-polls, so the default 30 s
//   would make the run last minutes; and it gives each long-poll test this plus 1 s, so a data-
//   bearing wait (a 500 ms pause, an append, the answer) needs room on a loaded machine. Below
//   5 s, which one test checks a closed stream's long-poll answers within.
// - `--max-payload-bytes 1048576`: the chunking test appends a 100 KiB body; the default limit
//   (64 KiB, DESIGN §8) would answer 413, which the protocol allows but that test does not.
// - `--keep-alive-timeout-ms 120000`: the chunking test checks 100 KiB with one `expect` per byte,
//   which holds the test process's event loop for seconds on a loaded machine. With Node's 5 s the
//   server closed the idle keep-alive connections meanwhile, and the next test's fetch, reusing
//   one it had not seen closed, failed ("other side closed", EPIPE).
// - `--publish-rate`, `--publish-burst` 1,000,000: every request of the suite is the one user
//   `anonymous`, whose appends share one publish budget; the default (200/s, burst 400) answers
//   429 to a suite that appends faster than that (rate limits are tested in rate-limits.test.ts).
describe('Durable Streams conformance (@durable-streams/server-conformance-tests)', () => {
  const config = { baseUrl: '', longPollTimeoutMs: 4_000 }
  let server: ServerProcess | undefined

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        '--auth',
        'none',
        '--long-poll-timeout-ms',
        String(config.longPollTimeoutMs),
        '--max-payload-bytes',
        '1048576',
        '--keep-alive-timeout-ms',
        '120000',
        '--publish-rate',
        '1000000',
        '--publish-burst',
        '1000000',
      ],
      // A loaded machine can take a while to start a process.
      startTimeoutMs: 60_000,
    })
    config.baseUrl = server.url
  }, 90_000)

  afterAll(async () => {
    await server?.dispose()
  })

  runConformanceTests(config)
})
