import { afterAll, beforeAll, describe } from 'vitest'
import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'

// The official Durable Streams conformance suite (DESIGN §6), against a real `seqline serve`
// process on SQLite. The suite sends no credentials, so this server runs with `--auth none`
// (every request is user `anonymous`); auth on these routes is tested in auth.test.ts.
// - `--long-poll-timeout-ms 1500`: the suite waits out several empty long-polls; the default 30 s
//   would make the run last minutes. Every data-bearing wait in the suite is well under 1.5 s.
// - `--max-payload-bytes 1048576`: the chunking test appends a 100 KiB body; the default limit
//   (64 KiB, DESIGN §8) would answer 413, which the protocol allows but that test does not.
describe('Durable Streams conformance (@durable-streams/server-conformance-tests)', () => {
  const config = { baseUrl: '', longPollTimeoutMs: 1_500 }
  let server: ServerProcess | undefined

  beforeAll(async () => {
    server = await startServerProcess({
      args: ['--auth', 'none', '--long-poll-timeout-ms', '1500', '--max-payload-bytes', '1048576'],
    })
    config.baseUrl = server.url
  })

  afterAll(async () => {
    await server?.dispose()
  })

  runConformanceTests(config)
})
