// bench/cluster — publish and fan-out throughput of Seqline on SQLite (1 node) and PostgreSQL
// (1 node, 3 nodes with the Redis bus, 3 nodes with the PostgreSQL bus), measured in one run:
//
//   publish: P pipelined publishers (a window of W each) spread over the nodes, round-robin over S
//            streams, as fast as the servers acknowledge: committed publishes/s;
//   fan-out: one publisher at a fixed rate on one stream, N subscribers spread over the nodes:
//            deliveries/s and publish → delivery latency (p50, p99).
//
//   npx tsx bench/cluster/run.ts [--seconds 5] [--publishers 24] [--window 16] [--streams 8]
//                                [--subscribers 60] [--rate 400] [--only sqlite-1,postgres-3-redis]
//
// Needs `npm run build`, PostgreSQL (SEQLINE_BENCH_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/postgres: a database is created per configuration and
// dropped after) and Redis (SEQLINE_BENCH_REDIS_URL, default redis://127.0.0.1:6379).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import WebSocket from 'ws'
import { type SpawnedServer, spawnServer } from '../support/spawn-process.js'
import { nextFrame as next, openWebSocket as open } from '../support/ws-frames.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    publishers: { type: 'string', default: '24' },
    window: { type: 'string', default: '16' },
    streams: { type: 'string', default: '8' },
    subscribers: { type: 'string', default: '60' },
    rate: { type: 'string', default: '400' },
    only: { type: 'string' },
  },
})
const SECONDS = Number(values.seconds)
const PUBLISHERS = Number(values.publishers)
const WINDOW = Number(values.window)
const STREAMS = Number(values.streams)
const SUBSCRIBERS = Number(values.subscribers)
const RATE = Number(values.rate)
const PG_URL =
  process.env.SEQLINE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.SEQLINE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url))

interface Config {
  readonly name: string
  readonly store: 'sqlite' | 'postgres'
  readonly nodes: number
  readonly bus?: 'redis' | 'postgres'
}

const CONFIGS: readonly Config[] = [
  { name: 'sqlite-1', store: 'sqlite', nodes: 1 },
  { name: 'postgres-1', store: 'postgres', nodes: 1 },
  { name: 'postgres-3-redis', store: 'postgres', nodes: 3, bus: 'redis' },
  { name: 'postgres-3-pgbus', store: 'postgres', nodes: 3, bus: 'postgres' },
]

interface Result {
  readonly name: string
  readonly publishesPerSec: number
  readonly ownPublishesPerSec: number
  readonly fanoutSent: number
  readonly deliveriesPerSec: number
  readonly expectedDeliveries: number
  readonly delivered: number
  readonly p50: number
  readonly p99: number
}

async function greet(url: string, token: string): Promise<WebSocket> {
  const ws = await open(url)
  const welcome = next(ws, 'welcome')
  ws.send(JSON.stringify({ t: 'hello', token }))
  await welcome
  return ws
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function withAdmin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Publish phase: every publisher keeps WINDOW publishes in flight for SECONDS. */
async function publishPhase(
  urls: readonly string[],
  prefix: string,
  mode: 'shared' | 'own',
): Promise<number> {
  const sockets = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, i) =>
      greet(urls[i % urls.length] as string, `bench-pub-${i}`),
    ),
  )
  let acked = 0
  let stop = false
  const done = sockets.map(
    (ws, i) =>
      new Promise<void>((resolve) => {
        const seqs = new Map<string, number>()
        let inFlight = 0
        let sentCount = 0
        let counting = false
        const send = (): void => {
          while (!stop && inFlight < WINDOW) {
            // shared: every publisher writes to every stream (hot streams, every node contends
            // for their locks); own: publisher i writes to its own stream only.
            const stream =
              mode === 'own' ? `${prefix}-own-${i}` : `${prefix}-${(i + sentCount++) % STREAMS}`
            const seq = seqs.get(stream) ?? 0
            seqs.set(stream, seq + 1)
            ws.send(JSON.stringify({ t: 'pub', stream, epoch: 1, seq, data: { i, seq } }))
            inFlight += 1
          }
          if (stop && inFlight === 0) resolve()
        }
        ws.on('message', (data) => {
          const frame = JSON.parse(String(data)) as { t: string }
          if (frame.t !== 'puback' && frame.t !== 'nack') return
          if (frame.t === 'nack') console.error('nack', String(data))
          inFlight -= 1
          if (counting) acked += 1
          send()
        })
        setTimeout(() => (counting = true), 1_000) // warm-up
        send()
      }),
  )
  await delay(1_000)
  const start = acked
  const t0 = performance.now()
  await delay(SECONDS * 1_000)
  const count = acked - start
  const seconds = (performance.now() - t0) / 1_000
  stop = true
  await Promise.race([Promise.all(done), delay(10_000)])
  for (const ws of sockets) ws.terminate()
  return count / seconds
}

/** Fan-out phase: one publisher at RATE/s, SUBSCRIBERS spread over the nodes. */
async function fanoutPhase(
  urls: readonly string[],
  stream: string,
): Promise<Omit<Result, 'name' | 'publishesPerSec' | 'ownPublishesPerSec'>> {
  const subscribers = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, async (_, i) => {
      const ws = await greet(urls[i % urls.length] as string, `bench-sub-${i}`)
      const caughtUp = next(ws, 'caughtUp')
      ws.send(JSON.stringify({ t: 'sub', stream, from: 'latest' }))
      await caughtUp
      return ws
    }),
  )
  const latencies: number[] = []
  let delivered = 0
  let measuring = false
  for (const ws of subscribers) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { t: string; data?: { t0?: number } }
      if (frame.t !== 'msg' || !measuring) return
      delivered += 1
      if (typeof frame.data?.t0 === 'number') latencies.push(Date.now() - frame.data.t0)
    })
  }
  const publisher = await greet(urls[0] as string, 'bench-fanout-pub')
  let seq = 0
  let sent = 0
  const tickMs = 10
  const perTick = RATE / (1_000 / tickMs)
  let carry = 0
  const timer = setInterval(() => {
    carry += perTick
    while (carry >= 1) {
      carry -= 1
      publisher.send(
        JSON.stringify({ t: 'pub', stream, epoch: 1, seq: seq++, data: { t0: Date.now() } }),
      )
      if (measuring) sent += 1
    }
  }, tickMs)
  await delay(1_000)
  measuring = true
  const t0 = performance.now()
  await delay(SECONDS * 1_000)
  measuring = false
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1_000
  await delay(1_000) // let the last deliveries land (they count, they were sent while measuring)
  latencies.sort((a, b) => a - b)
  publisher.terminate()
  for (const ws of subscribers) ws.terminate()
  return {
    fanoutSent: sent,
    deliveriesPerSec: delivered / seconds,
    expectedDeliveries: sent * SUBSCRIBERS,
    delivered,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  }
}

async function runConfig(config: Config): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-cluster-'))
  const dbName = `seqline_bench_${process.pid}_${config.name.replaceAll('-', '_')}`
  let store = `sqlite:${join(dir, 'seqline.db')}`
  if (config.store === 'postgres') {
    await withAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`))
    const url = new URL(PG_URL)
    url.pathname = `/${dbName}`
    store = url.href
  }
  const args = [
    CLI,
    'serve',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--store',
    store,
    '--auth',
    'dev',
    '--publish-rate',
    '1000000',
    '--publish-burst',
    '1000000',
    ...(config.bus === undefined
      ? []
      : ['--bus', config.bus === 'redis' ? REDIS_URL : 'postgres', '--bus-channel', dbName]),
  ]
  const servers: SpawnedServer[] = []
  try {
    // One after the other: the first migrates the schema.
    for (let i = 0; i < config.nodes; i++) servers.push(await spawnServer(args))
    const urls = servers.map((s) => `ws://127.0.0.1:${s.port}/v1/ws`)
    const publishesPerSec = await publishPhase(urls, `bench:${config.name}`, 'shared')
    const ownPublishesPerSec = await publishPhase(urls, `bench:${config.name}`, 'own')
    const fanout = await fanoutPhase(urls, `bench:${config.name}:fanout`)
    return { name: config.name, publishesPerSec, ownPublishesPerSec, ...fanout }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    rmSync(dir, { recursive: true, force: true })
    if (config.store === 'postgres') {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`))
    }
  }
}

const only = values.only?.split(',')
const results: Result[] = []
for (const config of CONFIGS) {
  if (only !== undefined && !only.includes(config.name)) continue
  process.stderr.write(`running ${config.name}…\n`)
  results.push(await runConfig(config))
}
console.log(
  `\n${PUBLISHERS} publishers × window ${WINDOW} over ${STREAMS} streams; fan-out ${RATE} msg/s to ${SUBSCRIBERS} subscribers; ${SECONDS} s measured\n`,
)
console.log(
  '| config | publishes/s, shared streams | publishes/s, own stream each | fan-out deliveries/s | delivered / expected | p50 ms | p99 ms |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.name} | ${Math.round(r.publishesPerSec).toLocaleString('en')} | ${Math.round(r.ownPublishesPerSec).toLocaleString('en')} | ${Math.round(r.deliveriesPerSec).toLocaleString('en')} | ${r.delivered.toLocaleString('en')} / ${r.expectedDeliveries.toLocaleString('en')} | ${r.p50} | ${r.p99} |`,
  )
}
process.exit(0)
