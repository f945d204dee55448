// bench/fanout — one publisher, N subscribers, small messages at a fixed rate: sustained fan-out
// (deliveries/s) and end-to-end latency of Seqline (durable: SQLite commit before fan-out) against
// a raw `ws` broadcast server (no storage at all), both measured in the same run.
//
//   npx tsx bench/fanout/run.ts [--subscribers 100] [--rate 2000] [--seconds 10] [--bytes 100]
//
// Servers run as child processes; the publisher and the subscribers run here. Loopback only.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { spawnServer, type SpawnedServer } from '../support/spawn-process.js'
import { nextFrame, openWebSocket as open } from '../support/ws-frames.js'
import { LatencyHistogram } from './latency-histogram.js'

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    bytes: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2' },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
})
const SUBSCRIBERS = Number(values.subscribers)
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const BYTES = Number(values.bytes)
const WARMUP = Number(values.warmup)
const TICK_MS = 10

interface Result {
  readonly name: string
  readonly sent: number
  readonly delivered: number
  readonly deliveriesPerSec: number
  readonly p50: number
  readonly p99: number
  readonly lost: number
  /** Server CPU seconds (user + system) per second of the measured window. */
  readonly serverCpu: number
}

/** A payload of about BYTES bytes of JSON carrying its send time. */
function payload(sentAt: number): { t0: number; pad: string } {
  return { t0: sentAt, pad: 'x'.repeat(Math.max(0, BYTES - 40)) }
}

const T0_KEY = Buffer.from('"t0":')

/** Reads the send time out of a frame without parsing it (the subscribers must stay cheap). */
function sentAtOf(data: Buffer): number {
  const at = data.indexOf(T0_KEY)
  if (at < 0) return Number.NaN
  const end = data.indexOf(44 /* , */, at)
  return Number(data.toString('latin1', at + T0_KEY.length, end))
}

/**
 * Drives one scenario: `connectSubscriber` opens a subscriber ready to receive; `publish` sends
 * one payload. Measures deliveries during the measured window only.
 */
async function measure(
  name: string,
  serverPid: number,
  connectSubscriber: () => Promise<WebSocket>,
  connectPublisher: () => Promise<(data: unknown) => void>,
): Promise<Result> {
  const latency = new LatencyHistogram()
  let measuring = false
  let delivered = 0
  const subscribers: WebSocket[] = []
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = await connectSubscriber()
    ws.on('message', (data: Buffer) => {
      if (!measuring) return
      const sentAt = sentAtOf(data)
      if (!(sentAt >= measureStart)) return
      delivered += 1
      latency.record(performance.now() - sentAt)
    })
    subscribers.push(ws)
  }
  const publish = await connectPublisher()
  let measureStart = Number.POSITIVE_INFINITY
  let cpuStart = Number.NaN
  let sent = 0
  const perTick = (RATE * TICK_MS) / 1000
  const started = performance.now()
  const total = (WARMUP + SECONDS) * 1000
  await new Promise<void>((resolve) => {
    let ticks = 0
    const timer = setInterval(() => {
      const elapsed = performance.now() - started
      if (!measuring && elapsed >= WARMUP * 1000) {
        measuring = true
        measureStart = performance.now()
        cpuStart = cpuSeconds(serverPid)
      }
      if (elapsed >= total) {
        clearInterval(timer)
        resolve()
        return
      }
      // Catch up on ticks the timer fired late for, so the offered rate stays exact.
      const due = Math.floor(elapsed / TICK_MS) + 1
      for (; ticks < due; ticks++) {
        for (let i = 0; i < perTick; i++) {
          const now = performance.now()
          if (measuring) sent += 1
          publish(payload(now))
        }
      }
    }, TICK_MS)
  })
  const windowMs = performance.now() - measureStart
  const serverCpu = (cpuSeconds(serverPid) - cpuStart) / (windowMs / 1000)
  // Let in-flight deliveries land before counting.
  await new Promise((r) => setTimeout(r, 1500))
  for (const ws of subscribers) ws.terminate()
  return {
    name,
    sent,
    delivered,
    deliveriesPerSec: delivered / (windowMs / 1000),
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    lost: sent * SUBSCRIBERS - delivered,
    serverCpu,
  }
}

async function seqline(): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-'))
  const cli = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url))
  const profile =
    values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`]
  const server: SpawnedServer = await spawnServer([
    ...profile,
    cli,
    'serve',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--store',
    `sqlite:${join(dir, 'bench.db')}`,
    '--publish-rate',
    String(RATE * 10),
    '--publish-burst',
    String(RATE * 10),
    '--max-clients-per-user',
    String(SUBSCRIBERS + 10),
  ])
  const url = `ws://127.0.0.1:${server.port}/v1/ws`
  try {
    return await measure(
      'seqline (durable, SQLite)',
      server.pid,
      async () => {
        const ws = await open(url)
        ws.send(JSON.stringify({ t: 'hello', token: 'bench-sub' }))
        await nextFrame(ws, 'welcome')
        ws.send(JSON.stringify({ t: 'sub', stream: 'bench:fanout', from: 'latest' }))
        await nextFrame(ws, 'caughtUp')
        return ws
      },
      async () => {
        const ws = await open(url)
        ws.send(JSON.stringify({ t: 'hello', token: 'bench-pub' }))
        await nextFrame(ws, 'welcome')
        let seq = 0
        return (data) => {
          ws.send(JSON.stringify({ t: 'pub', stream: 'bench:fanout', epoch: 0, seq: seq++, data }))
        }
      },
    )
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function rawWs(): Promise<Result> {
  const script = fileURLToPath(new URL('./raw-ws-server.ts', import.meta.url))
  const profile =
    values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`]
  const server = await spawnServer([...profile, '--import', 'tsx', script])
  const url = `ws://127.0.0.1:${server.port}`
  try {
    return await measure(
      'raw ws broadcast (no storage)',
      server.pid,
      () => open(url),
      async () => {
        const ws = await open(url)
        return (data) => ws.send(JSON.stringify(data))
      },
    )
  } finally {
    await server.stop()
  }
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
if (values.only !== undefined) {
  console.log(values.only === 'seqline' ? await seqline() : await rawWs())
  process.exit(0)
}
const results = [await rawWs(), await seqline()]
console.log(
  `\nfan-out: ${SUBSCRIBERS} subscribers, ${RATE} msg/s offered, ~${BYTES}-byte messages, ${SECONDS}s measured\n`,
)
console.log(
  '| server | deliveries/s | p50 ms | p99 ms | not delivered in window | server CPU (cores) | server µs CPU / delivery |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.name} | ${fmt(r.deliveriesPerSec, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.lost} | ${fmt(r.serverCpu, 2)} | ${fmt((r.serverCpu / r.deliveriesPerSec) * 1e6, 2)} |`,
  )
}
const [raw, durable] = results as [Result, Result]
console.log(
  `\nratio seqline/raw: deliveries ${fmt(durable.deliveriesPerSec / raw.deliveriesPerSec, 2)}×, p99 ${fmt(durable.p99 / raw.p99, 2)}×`,
)
process.exit(0)
