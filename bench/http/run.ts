// bench/http — the Durable Streams HTTP protocol: Seqline (SQLite, every append durable before its
// answer) against the Durable Streams reference server (`@durable-streams/server`, file-backed),
// both started here and measured in the same run, same client, same requests. Loopback only.
//
//   npx tsx bench/http/run.ts [--appends 20000] [--writers 32] [--streams 8] [--messages 20000]
//                             [--readers 8] [--reads 40] [--bytes 100]
//                             [--only seqline|reference] [--cpu-prof <dir>]
//                             [--cli <seqline cli.js>] [--json <file>]
//
// 1. Append throughput: `writers` concurrent keep-alive connections POST `appends` JSON messages
//    of about `bytes` bytes, round-robin over `streams` streams; appends/s.
// 2. Catch-up read throughput: one JSON stream of `messages` messages (written in batches of 100);
//    `readers` concurrent readers each read it `reads` times from `-1`, following
//    Stream-Next-Offset until Stream-Up-To-Date; messages/s and MB/s. The first read, by one reader
//    with nothing cached, is reported on its own ("first read").

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpus } from 'node:os'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { type SpawnedServer, spawnServer } from '../support/spawn-process.js'
import { HttpClient } from './http-client.js'
import { serveArgs } from '../support/serve-args.js'

const { values } = parseArgs({
  options: {
    appends: { type: 'string', default: '20000' },
    writers: { type: 'string', default: '32' },
    streams: { type: 'string', default: '8' },
    messages: { type: 'string', default: '20000' },
    readers: { type: 'string', default: '8' },
    reads: { type: 'string', default: '40' },
    bytes: { type: 'string', default: '100' },
    only: { type: 'string' },
    /** Directory for a V8 CPU profile of the Seqline server. */
    'cpu-prof': { type: 'string' },
    /** The Seqline CLI to run (another checkout's `packages/server/dist/cli.js`). */
    cli: {
      type: 'string',
      default: fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url)),
    },
    /** Also write the results as JSON to this file. */
    json: { type: 'string' },
  },
})
const APPENDS = Number(values.appends)
const WRITERS = Number(values.writers)
const STREAMS = Number(values.streams)
const MESSAGES = Number(values.messages)
const READERS = Number(values.readers)
const READS = Number(values.reads)
const BYTES = Number(values.bytes)

interface Result {
  readonly name: string
  readonly appendsPerSec: number
  /** The first read of the stream by one reader (nothing cached yet, JSON parsed). */
  readonly coldReadMessagesPerSec: number
  readonly readMessagesPerSec: number
  readonly readMBPerSec: number
  readonly serverCpu: number
}

function message(i: number): string {
  return JSON.stringify({ i, pad: 'x'.repeat(Math.max(0, BYTES - 20)) })
}

const JSON_TYPE = { 'Content-Type': 'application/json' }

async function measure(name: string, server: SpawnedServer): Promise<Result> {
  const client = new HttpClient(`http://127.0.0.1:${server.port}`, Math.max(WRITERS, READERS))
  const run = `${name}-${Date.now()}`
  const path = (stream: string): string => `/v1/stream/${run}-${stream}`

  // 1. Appends.
  for (let s = 0; s < STREAMS; s++) {
    const res = await client.send('PUT', path(`w${s}`), JSON_TYPE)
    if (res.status !== 201) throw new Error(`${name}: PUT answered ${res.status}`)
  }
  // Warm-up: JIT, connections, first pages.
  await Promise.all(
    Array.from({ length: WRITERS }, (_, w) =>
      client.send('POST', path(`w${w % STREAMS}`), JSON_TYPE, message(w)),
    ),
  )
  let next = 0
  const cpu0 = cpuSeconds(server.pid)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let i = next++; i < APPENDS; i = next++) {
        const res = await client.send('POST', path(`w${i % STREAMS}`), JSON_TYPE, message(i))
        if (res.status !== 204) throw new Error(`${name}: POST answered ${res.status}`)
      }
    }),
  )
  const appendSeconds = (performance.now() - t0) / 1000
  const appendCpu = cpuSeconds(server.pid) - cpu0

  // 2. Catch-up reads of one stream.
  const stream = path('read')
  await client.send('PUT', stream, JSON_TYPE)
  for (let i = 0; i < MESSAGES; i += 100) {
    const batch = Array.from({ length: Math.min(100, MESSAGES - i) }, (_, j) => message(i + j))
    const res = await client.send('POST', stream, JSON_TYPE, `[${batch.join(',')}]`)
    if (res.status !== 204) throw new Error(`${name}: batch POST answered ${res.status}`)
  }
  // Only the first read parses the JSON (to check it); the timed ones count bytes, so that the
  // load generator, which shares the CPU with the server, spends as little as possible.
  const readAll = async (parse = false): Promise<{ messages: number; bytes: number }> => {
    let offset = '-1'
    let messages = 0
    let bytes = 0
    for (;;) {
      const res = await client.send('GET', `${stream}?offset=${encodeURIComponent(offset)}`)
      if (res.status !== 200) throw new Error(`${name}: GET answered ${res.status}`)
      bytes += res.body.byteLength
      if (parse) messages += (JSON.parse(res.body.toString('utf8')) as unknown[]).length
      offset = String(res.headers['stream-next-offset'])
      if (res.headers['stream-up-to-date'] === 'true')
        return { messages: parse ? messages : MESSAGES, bytes }
    }
  }
  const tCold = performance.now()
  const check = await readAll(true)
  const coldSeconds = (performance.now() - tCold) / 1000
  if (check.messages !== MESSAGES)
    throw new Error(`${name}: read ${check.messages} of ${MESSAGES} messages`)
  const cpu1 = cpuSeconds(server.pid)
  const t1 = performance.now()
  const totals = await Promise.all(
    Array.from({ length: READERS }, async () => {
      let messages = 0
      let bytes = 0
      for (let r = 0; r < READS / READERS; r++) {
        const once = await readAll()
        messages += once.messages
        bytes += once.bytes
      }
      return { messages, bytes }
    }),
  )
  const readSeconds = (performance.now() - t1) / 1000
  const readCpu = cpuSeconds(server.pid) - cpu1
  client.close()
  const messages = totals.reduce((sum, t) => sum + t.messages, 0)
  const bytes = totals.reduce((sum, t) => sum + t.bytes, 0)
  return {
    name,
    appendsPerSec: APPENDS / appendSeconds,
    coldReadMessagesPerSec: MESSAGES / coldSeconds,
    readMessagesPerSec: messages / readSeconds,
    readMBPerSec: bytes / 1e6 / readSeconds,
    serverCpu: (appendCpu + readCpu) / (appendSeconds + readSeconds),
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-http-'))
  const cli = values.cli
  const reference = fileURLToPath(new URL('./reference-server.ts', import.meta.url))
  const results: Result[] = []
  try {
    if (values.only === undefined || values.only === 'seqline') {
      const seqline = await spawnServer([
        ...(values['cpu-prof'] === undefined
          ? []
          : ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']]),
        ...serveArgs(cli, join(dir, 'seqline.db'), [
          '--auth',
          'none',
          '--max-payload-bytes',
          '1048576',
          // Appends are rate limited like WebSocket publishes; this bench measures throughput.
          '--publish-rate',
          '1000000',
          '--publish-burst',
          '1000000',
          '--log-level',
          'info',
        ]),
      ])
      try {
        results.push(await measure('seqline', seqline))
      } finally {
        await seqline.stop()
      }
    }
    if (values.only === undefined || values.only === 'reference') {
      const ref = await spawnServer(['--import', 'tsx', reference, join(dir, 'reference')])
      try {
        results.push(await measure('reference', ref))
      } finally {
        await ref.stop()
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `\nbench/http — ${cpus().length} × ${cpu}, Node ${process.version}; ${APPENDS} appends by ${WRITERS} writers over ${STREAMS} streams; ` +
      `${READERS} readers × ${READS / READERS} catch-up reads of ${MESSAGES} messages; ~${BYTES} B messages\n`,
  )
  console.log(
    '| server | appends/s | first read msgs/s | catch-up msgs/s | catch-up MB/s | server CPU |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    console.log(
      `| ${r.name} | ${Math.round(r.appendsPerSec)} | ${Math.round(r.coldReadMessagesPerSec)} | ${Math.round(r.readMessagesPerSec)} | ${r.readMBPerSec.toFixed(1)} | ${r.serverCpu.toFixed(2)} |`,
    )
  }
  const [seq, ref] = [
    results.find((r) => r.name === 'seqline'),
    results.find((r) => r.name === 'reference'),
  ]
  if (values.json !== undefined) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ cpu, cpus: cpus().length, results }, null, 2)}\n`,
    )
  }
  if (seq !== undefined && ref !== undefined) {
    console.log(
      `\nratio seqline / reference: appends ${(seq.appendsPerSec / ref.appendsPerSec).toFixed(2)}×, ` +
        `catch-up reads ${(seq.readMessagesPerSec / ref.readMessagesPerSec).toFixed(2)}×`,
    )
  }
}

await main()
