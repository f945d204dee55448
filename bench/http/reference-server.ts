// The Durable Streams reference server (`@durable-streams/server`), file-backed, as a child
// process of bench/http/run.ts: prints `{"port": N}` once listening, stops on SIGTERM.
//
//   node --import tsx bench/http/reference-server.ts <data-dir>
import { DurableStreamTestServer } from '@durable-streams/server'

const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error('usage: reference-server.ts <data-dir>')
const server = new DurableStreamTestServer({
  port: 0,
  host: '127.0.0.1',
  dataDir,
  longPollTimeout: 1_000,
})
await server.start()
process.stdout.write(
  `${JSON.stringify({ port: new URL(server.url).port === '' ? 80 : Number(new URL(server.url).port) })}\n`,
)
process.once('SIGTERM', () => {
  void server.stop().then(() => process.exit(0))
})
