// bench/http-modes — the SDK's three transports against one real `seqline serve` (SQLite, dev
// auth), each on a fresh server process, measured in the same run:
//
//   - `websocket`: `transport: 'websocket'`;
//   - `sse`: the HTTP session (`transport: 'http'`): one multiplexed SSE read for every stream of
//     a client, plus one POST at a time for what the client sends;
//   - `long-poll`: the HTTP session long-polling (`transport: 'long-poll'`).
//
// For each: N SDK clients (memory storage, each its own user, in --workers client processes), each
// subscribed to --streams-per-client streams — the shared room and streams of its own — then
//
//   1. idle: --idle-seconds with every client connected and no traffic: server CPU (heartbeats,
//      re-polls), HTTP requests the server completed (its `seqline_http_requests_total`, session
//      routes only) and its open TCP connections (/proc/net/tcp), per client;
//   2. memory: server RSS and V8 heap after a full GC, all connected and idle, minus the same
//      before the first client, per client;
//   3. loaded: a publisher (an SDK client over WebSocket, the same for every mode) publishes to the
//      room at --rate msg/s for --seconds: publish → receipt latency on the monotonic clock the
//      processes share (p50/p90/p99/max), exactly once and in order (lost, duplicated and
//      out-of-order counts: all must be 0), server CPU µs per delivery, HTTP requests per client
//      per minute.
//
// Ratios are given against websocket of the same run: the machine's noise cancels out in them.
//
//   npm run build && npx tsx bench/http-modes/run.ts [--clients 300] [--streams-per-client 3]
//       [--rate 3] [--seconds 30] [--idle-seconds 30] [--modes websocket,sse,long-poll]
//       [--workers 2] [--concurrency 50] [--out bench/http-modes/results] [--no-svg]
//       [--cli <seqline cli.js>]
//
// The defaults take about 4 minutes on 2 cores (≈ 75 s per mode). The clients are real SDK clients
// and cost CPU — an HTTP client several times a WebSocket one per delivery: keep the client
// processes' cores (reported) well under --workers, else they, not the server, set the latency.
//
// Results: <out>/http-modes.json and http-modes.md, and http-modes.svg unless --no-svg.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from '@seqline/client'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { type Distribution, distributionOf } from '../support/distribution.js'
import { planOpenFiles } from '../support/fd-limit.js'
import { type Machine, machine, machineLine } from '../support/machine.js'
import { type ProbedServer, startProbedServer } from '../support/probed-server.js'
import type { ProbeMemory } from '../support/server-probe.js'
import { type ChartPanel, svgChart } from '../support/svg-chart.js'
import { type WorkerProcess, startWorker, ask } from '../support/worker-process.js'
import {
  Mode,
  type ModesEvent,
  type ModesReply,
  type ModesRequest,
  type Stamp,
  monotonicMs,
} from './modes-protocol.js'
import {
  requestsBetween,
  scrapeRequests,
  serverConnections,
  sessionRequests,
} from './server-counters.js'
import { serveArgs } from '../support/serve-args.js'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' },
    'streams-per-client': { type: 'string', default: '3' },
    rate: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    'idle-seconds': { type: 'string', default: '30' },
    modes: { type: 'string', default: 'websocket,sse,long-poll' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
    /** How long the clients may take to connect and subscribe (s). */
    timeout: { type: 'string', default: '120' },
    out: { type: 'string', default: fileURLToPath(new URL('./results', import.meta.url)) },
    'no-svg': { type: 'boolean', default: false },
    cli: {
      type: 'string',
      default: fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url)),
    },
  },
})

const CLIENTS = Number(values.clients)
const STREAMS_PER_CLIENT = Number(values['streams-per-client'])
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const IDLE_SECONDS = Number(values['idle-seconds'])
const WORKERS = Number(values.workers)
const CONCURRENCY = Number(values.concurrency)
const TIMEOUT_MS = Number(values.timeout) * 1000
const MODES = values.modes.split(',') as Mode[]
const ROOM = 'room:shared'
/** The server alone (no client) before the clients connect: its CPU and memory baseline. */
const BASELINE_MS = 3_000
/** Between the last client subscribed and the idle window: the connection storm settles. */
const SETTLE_MS = 2_000
/** Longest wait for the last deliveries once publishing stopped. */
const DRAIN_MS = 30_000
/** Descriptors the server needs besides its clients' sockets (listener, SQLite, stdio …). */
const SERVER_FD_MARGIN = 100

for (const mode of MODES) {
  if (!Object.values(Mode).includes(mode)) throw new Error(`unknown mode ${mode}`)
}

/** What one mode measured. */
export interface ModeResult {
  readonly mode: Mode
  readonly clients: number
  readonly connected: number
  /** Clients whose open state named another transport (e.g. SSE that fell back to long-poll). */
  readonly wrongTransport: number
  readonly connect: Distribution
  readonly published: number
  readonly deliveries: number
  readonly lost: number
  readonly duplicated: number
  readonly outOfOrder: number
  readonly reconnects: number
  /** Publish → receipt (ms). */
  readonly latency: Distribution
  readonly memory: {
    readonly before: ProbeMemory
    readonly after: ProbeMemory
    readonly rssPerClientKb: number
    readonly heapPerClientKb: number
  }
  readonly idle: {
    readonly seconds: number
    /** Server CPU, % of one core. */
    readonly serverCpuPercent: number
    /** The same with no client connected (before they connect). */
    readonly baselineCpuPercent: number
    /** Client processes' CPU, % of one core. */
    readonly clientCpuPercent: number
    readonly requestsPerClientPerMinute: number
    readonly requests: Readonly<Record<string, number>>
    /** Server-side TCP connections per client (the publisher's one left out). */
    readonly tcpPerClient: number
  }
  readonly loaded: {
    readonly seconds: number
    readonly deliveriesPerSec: number
    readonly serverCpuCores: number
    readonly serverMicrosPerDelivery: number
    readonly clientMicrosPerDelivery: number
    /** CPU the client processes used (cores): near --workers, the clients were the bottleneck. */
    readonly clientCpuCores: number
    readonly requestsPerClientPerMinute: number
    readonly requests: Readonly<Record<string, number>>
    readonly tcpPerClient: number
  }
}

type ModesWorker = WorkerProcess<ModesRequest, ModesReply, ModesEvent>

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

async function measure(mode: Mode, fd: ReturnType<typeof planOpenFiles>): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-http-modes-'))
  const server: ProbedServer = await startProbedServer({
    args: serveArgs(values.cli, join(dir, 'seqline.db'), [
      '--auth',
      'dev',
      '--log-level',
      'info',
      '--publish-rate',
      String(Math.max(1000, RATE * 10)),
      '--publish-burst',
      String(Math.max(2000, RATE * 20)),
    ]),
    wrapper: fd.wrapper,
  })
  const url = `http://127.0.0.1:${server.port}`
  const workers: ModesWorker[] = Array.from({ length: WORKERS }, () =>
    startWorker<ModesRequest, ModesReply, ModesEvent>(
      new URL('./modes-worker.ts', import.meta.url),
      { wrapper: fd.wrapper },
    ),
  )
  const publisher = createClient({
    url,
    token: 'publisher',
    transport: 'websocket',
    environment: null,
  })
  try {
    // Baseline: the server alone, after start-up settled.
    await sleep(1_000)
    await server.memory()
    const baseCpu0 = cpuSeconds(server.pid)
    const base0 = monotonicMs()
    await sleep(BASELINE_MS)
    const baselineCpuPercent =
      ((cpuSeconds(server.pid) - baseCpu0) / ((monotonicMs() - base0) / 1000)) * 100
    const before = await server.memory()

    // Connect every client.
    const deadlineMs = monotonicMs() + TIMEOUT_MS
    const share = (w: number): { first: number; count: number } => {
      const base = Math.floor(CLIENTS / WORKERS)
      const first = w * base
      return { first, count: w === WORKERS - 1 ? CLIENTS - first : base }
    }
    const progress = new Array<number>(WORKERS).fill(0)
    let lastPrint = monotonicMs()
    workers.forEach((w, i) =>
      w.onEvent((event) => {
        progress[i] = event.connected
        if (monotonicMs() - lastPrint > 5_000) {
          lastPrint = monotonicMs()
          console.log(`  … ${sum(progress)}/${CLIENTS} subscribed`)
        }
      }),
    )
    const replies = await Promise.all(
      workers.map((w, i) =>
        ask(
          w,
          {
            type: 'connect',
            mode,
            url,
            ...share(i),
            streamsPerClient: STREAMS_PER_CLIENT,
            room: ROOM,
            concurrency: Math.ceil(CONCURRENCY / WORKERS),
            deadlineMs,
          },
          'connected',
        ),
      ),
    )
    const connected = sum(replies.map((r) => r.connected))
    console.log(`  ${connected}/${CLIENTS} subscribed`)
    const room = publisher.stream<Stamp>(ROOM)
    await room.publish({ i: -1, ts: monotonicMs() })
    await sleep(SETTLE_MS)

    // Idle.
    const clientCpu = (): number => sum(workers.map((w) => cpuSeconds(w.pid)))
    const per = (n: number): number => n / Math.max(1, connected)
    const idleRequests0 = await scrapeRequests(server.port)
    const idleCpu0 = cpuSeconds(server.pid)
    const idleClientCpu0 = clientCpu()
    const idle0 = monotonicMs()
    await sleep((IDLE_SECONDS * 1000) / 2)
    const idleTcp = serverConnections(server.port) - 1
    await sleep((IDLE_SECONDS * 1000) / 2)
    const idleSeconds = (monotonicMs() - idle0) / 1000
    const idleCpu = cpuSeconds(server.pid) - idleCpu0
    const idleClientCpu = clientCpu() - idleClientCpu0
    const idleRequests = requestsBetween(idleRequests0, await scrapeRequests(server.port))
    const after = await server.memory()
    await sleep(1_000)

    // Loaded.
    await Promise.all(workers.map((w) => ask(w, { type: 'arm' }, 'armed')))
    const loadRequests0 = await scrapeRequests(server.port)
    const loadCpu0 = cpuSeconds(server.pid)
    const loadClientCpu0 = clientCpu()
    const load0 = monotonicMs()
    let published = 0
    const publishes: Promise<unknown>[] = []
    let loadTcp = Number.NaN
    while (true) {
      const elapsed = monotonicMs() - load0
      if (elapsed >= SECONDS * 1000) break
      const due = Math.min(Math.floor((elapsed / 1000) * RATE) + 1, RATE * SECONDS)
      while (published < due) publishes.push(room.publish({ i: published++, ts: monotonicMs() }))
      if (Number.isNaN(loadTcp) && elapsed >= (SECONDS * 1000) / 2) {
        loadTcp = serverConnections(server.port) - 1
      }
      await sleep(Math.max(1, Math.min(10, 1000 / RATE / 2)))
    }
    await Promise.all(publishes)
    const awaited = await Promise.all(
      workers.map((w) =>
        ask(
          w,
          { type: 'await', total: published, deadlineMs: monotonicMs() + DRAIN_MS },
          'awaited',
        ),
      ),
    )
    const lastMs = Math.max(...awaited.map((a) => a.lastMs))
    const loadSeconds = (Math.max(lastMs, load0 + SECONDS * 1000) - load0) / 1000
    const loadCpu = cpuSeconds(server.pid) - loadCpu0
    const loadClientCpu = clientCpu() - loadClientCpu0
    const loadRequests = requestsBetween(loadRequests0, await scrapeRequests(server.port))
    const verified = await Promise.all(
      workers.map((w) => ask(w, { type: 'verify', total: published }, 'verified')),
    )
    const deliveries = sum(awaited.map((a) => a.received))
    const latencies = verified.flatMap((v) => v.latencies)

    return {
      mode,
      clients: CLIENTS,
      connected,
      wrongTransport: sum(replies.map((r) => r.wrongTransport)),
      connect: distributionOf(replies.flatMap((r) => r.latencies)),
      published,
      deliveries,
      lost: sum(verified.map((v) => v.lost)),
      duplicated: sum(verified.map((v) => v.duplicated)),
      outOfOrder: sum(verified.map((v) => v.outOfOrder)),
      reconnects: sum(verified.map((v) => v.reconnects)),
      latency: distributionOf(latencies),
      memory: {
        before,
        after,
        rssPerClientKb: per(after.rss - before.rss) / 1024,
        heapPerClientKb: per(after.heapUsed - before.heapUsed) / 1024,
      },
      idle: {
        seconds: idleSeconds,
        serverCpuPercent: (idleCpu / idleSeconds) * 100,
        baselineCpuPercent,
        clientCpuPercent: (idleClientCpu / idleSeconds) * 100,
        requestsPerClientPerMinute: per(sessionRequests(idleRequests)) / (idleSeconds / 60),
        requests: idleRequests,
        tcpPerClient: per(idleTcp),
      },
      loaded: {
        seconds: loadSeconds,
        deliveriesPerSec: deliveries / loadSeconds,
        serverCpuCores: loadCpu / loadSeconds,
        serverMicrosPerDelivery: (loadCpu / Math.max(1, deliveries)) * 1e6,
        clientMicrosPerDelivery: (loadClientCpu / Math.max(1, deliveries)) * 1e6,
        clientCpuCores: loadClientCpu / loadSeconds,
        requestsPerClientPerMinute: per(sessionRequests(loadRequests)) / (loadSeconds / 60),
        requests: loadRequests,
        tcpPerClient: per(loadTcp),
      },
    }
  } finally {
    await publisher.close()
    await Promise.all(workers.map((w) => w.request({ type: 'close' }).catch(() => undefined)))
    await Promise.all(workers.map((w) => w.stop()))
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const COLORS: Record<Mode, string> = {
  websocket: '#1f5fbf',
  sse: '#d9822b',
  'long-poll': '#7a7a7a',
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–'

function markdown(results: readonly ModeResult[], m: Machine): string {
  const lines = [
    `bench/http-modes — ${CLIENTS} clients × ${STREAMS_PER_CLIENT} streams (1 shared room), ${RATE} msg/s to the room for ${SECONDS} s, ${IDLE_SECONDS} s idle, ${WORKERS} client processes; ${machineLine(m)}`,
    '',
    '| mode | subscribed | delivered | lost / dup / out of order | p50 ms | p90 ms | p99 ms | max ms | server µs CPU / delivery | server cores | client µs CPU / delivery | client cores | idle server CPU % (no clients) | server RSS kB / client | heap kB / client | HTTP req / client / min idle | loaded | TCP conns / client |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${fmt(r.connected)}${r.connected < r.clients ? ' ⚠' : ''}${r.wrongTransport > 0 ? ` (${r.wrongTransport} other transport ⚠)` : ''}${r.reconnects > 0 ? ` (${r.reconnects} reconnects ⚠)` : ''} | ${fmt(r.deliveries)} | ${r.lost} / ${r.duplicated} / ${r.outOfOrder}${r.lost + r.duplicated + r.outOfOrder > 0 ? ' ⚠' : ''} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p90, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.latency.max, 1)} | ${fmt(r.loaded.serverMicrosPerDelivery, 1)} | ${fmt(r.loaded.serverCpuCores, 2)} | ${fmt(r.loaded.clientMicrosPerDelivery, 1)} | ${fmt(r.loaded.clientCpuCores, 2)} | ${fmt(r.idle.serverCpuPercent, 2)} (${fmt(r.idle.baselineCpuPercent, 2)}) | ${fmt(r.memory.rssPerClientKb, 1)} | ${fmt(r.memory.heapPerClientKb, 1)} | ${fmt(r.idle.requestsPerClientPerMinute, 1)} | ${fmt(r.loaded.requestsPerClientPerMinute, 1)} | ${fmt(r.idle.tcpPerClient, 2)} / ${fmt(r.loaded.tcpPerClient, 2)} |`,
    )
  }
  const ws = results.find((r) => r.mode === Mode.websocket)
  if (ws !== undefined && results.length > 1) {
    const ratio = (a: number, b: number): string =>
      b > 0 && Number.isFinite(a / b) ? `${fmt(a / b, 2)}×` : '–'
    lines.push(
      '',
      'Ratios against websocket (same run):',
      '',
      '| mode | p50 | p99 | server CPU / delivery | idle server CPU | server RSS / client | heap / client |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const r of results) {
      if (r === ws) continue
      lines.push(
        `| ${r.mode} | ${ratio(r.latency.p50, ws.latency.p50)} | ${ratio(r.latency.p99, ws.latency.p99)} | ${ratio(r.loaded.serverMicrosPerDelivery, ws.loaded.serverMicrosPerDelivery)} | ${ratio(r.idle.serverCpuPercent, ws.idle.serverCpuPercent)} | ${ratio(r.memory.rssPerClientKb, ws.memory.rssPerClientKb)} | ${ratio(r.memory.heapPerClientKb, ws.memory.heapPerClientKb)} |`,
      )
    }
  }
  lines.push(
    '',
    `Latency: publish() called → onMessage in the client, monotonic clock. Client cores near ${WORKERS} (the client processes) mean the clients, not the server, set the latency: lower --rate or --clients. Server RSS per client is noisy below a few hundred clients; the V8 heap is the steadier figure. TCP conns / client: idle / loaded. HTTP requests: completed requests of the session routes (a held SSE read counts when it ends); the requests by route are in the JSON.`,
  )
  return lines.join('\n')
}

function chart(results: readonly ModeResult[], m: Machine): string {
  const percentiles = [50, 90, 99, 100]
  const at = (d: Distribution, p: number): number =>
    p === 50 ? d.p50 : p === 90 ? d.p90 : p === 99 ? d.p99 : d.max
  const panels: ChartPanel[] = [
    {
      title: 'Delivery latency: publish → receipt',
      xLabel: 'percentile (100: max)',
      yLabel: 'ms (log)',
      logY: true,
      series: results.map((r) => ({
        name: r.mode,
        color: COLORS[r.mode],
        points: percentiles.map((p) => ({ x: p, y: at(r.latency, p) })),
      })),
    },
  ]
  return svgChart(panels, {
    title: `bench/http-modes — ${CLIENTS} clients, ${RATE} msg/s to a shared room`,
    subtitle: machineLine(m),
    columns: 1,
  })
}

// ---------------------------------------------------------------------------------------------

const m = machine()
const fd = planOpenFiles(CLIENTS * 2 + SERVER_FD_MARGIN)
const results: ModeResult[] = []
for (const mode of MODES) {
  console.log(`${mode}: ${CLIENTS} clients …`)
  const r = await measure(mode, fd)
  results.push(r)
  console.log(
    `  delivered ${r.deliveries} (lost ${r.lost}, dup ${r.duplicated}); p50 ${fmt(r.latency.p50, 1)} ms, p99 ${fmt(r.latency.p99, 1)} ms; ` +
      `${fmt(r.loaded.serverMicrosPerDelivery, 1)} µs server CPU / delivery; idle CPU ${fmt(r.idle.serverCpuPercent, 2)} %`,
  )
}
m.loadAfter = loadavg()[0]
mkdirSync(values.out, { recursive: true })
writeFileSync(
  join(values.out, 'http-modes.json'),
  `${JSON.stringify(
    {
      machine: m,
      options: {
        clients: CLIENTS,
        streamsPerClient: STREAMS_PER_CLIENT,
        rate: RATE,
        seconds: SECONDS,
        idleSeconds: IDLE_SECONDS,
        workers: WORKERS,
      },
      results,
    },
    null,
    2,
  )}\n`,
)
const table = markdown(results, m)
writeFileSync(join(values.out, 'http-modes.md'), `${table}\n`)
if (!values['no-svg']) writeFileSync(join(values.out, 'http-modes.svg'), chart(results, m))
console.log(
  `\n${table}\n\nwritten: ${join(values.out, 'http-modes.{json,md' + (values['no-svg'] ? '' : ',svg') + '}')}`,
)
process.exit(0)
