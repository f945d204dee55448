// bench/connections/fill — N subscribers join ONE room (a #general: each subscriber its own user
// and connection), on Seqline, a raw `ws` broadcast server and Socket.IO, measured in the same
// run, each server alone in its process (the subscribers run in separate client processes):
//
//   - time to connect all: ready = open (ws), connected + joined (Socket.IO), hello → welcome →
//     sub → caughtUp (Seqline); per-subscriber latency from its first attempt, retries included;
//   - server memory per connection: RSS and V8 heap of the server before the first connection and
//     once all are subscribed and idle, both after a full GC (`--expose-gc`);
//   - one broadcast to all: publish → every subscriber has it (p50 and last), median of repeats;
//   - presence frames per join (Seqline): `presenceDiff` frames the members received while the
//     room filled, divided by the joins, and the bytes of the `presence` snapshots.
//
// Two ways to connect: `batched` (--concurrency attempts in flight, e.g. 50) and `burst` (every
// subscriber at once).
//
//   npm run build && npx tsx bench/connections/fill.ts [--sizes 1000,5000,10000,20000]
//       [--systems ws,socketio,seqline] [--modes batched,burst] [--concurrency 50] [--workers 2]
//       [--broadcasts 5] [--timeout 900] [--out bench/connections/results] [--cpu-prof <dir>]
//   npx tsx bench/connections/fill.ts --merge a.json,b.json [--out …]   (one report from several)
//
// A run that does not have every subscriber ready within --timeout seconds is reported with the
// number that were; the larger sizes of that server and mode are then skipped. Sizes above what the open-files limit allows the server (`ulimit -n`, minus a margin) are
// lowered to it; the report says so. Results: <out>/fill.json, fill.md and fill.svg.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import { type Socket as SocketIoClient, io } from 'socket.io-client'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { type Distribution, distributionOf, median } from '../support/distribution.js'
import { planOpenFiles } from '../support/fd-limit.js'
import { type Machine, machine, machineBusySeconds, machineLine } from '../support/machine.js'
import { type ProbedServer, startProbedServer } from '../support/probed-server.js'
import type { ProbeMemory, ProbeStats } from '../support/server-probe.js'
import { type ChartPanel, svgChart } from '../support/svg-chart.js'
import { type WorkerProcess, startWorker, ask } from '../support/worker-process.js'
import { nextFrame, openWebSocket } from '../support/ws-frames.js'
import {
  type FillEvent,
  type FillReply,
  type FillRequest,
  type FrameCounters,
  System,
  monotonicMs,
} from './fill-protocol.js'
import { serveArgs } from '../support/serve-args.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000,20000' },
    systems: { type: 'string', default: 'ws,socketio,seqline' },
    modes: { type: 'string', default: 'batched,burst' },
    concurrency: { type: 'string', default: '50' },
    workers: { type: 'string', default: '2' },
    broadcasts: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '900' },
    /** Directory for V8 CPU profiles of the servers while the room fills. */
    'cpu-prof': { type: 'string' },
    /** Directory for V8 heap snapshots of the servers once the room is full (bench/support/heap-top.ts). */
    'heap-snapshot': { type: 'string' },
    /** Only rebuild the report (md, svg) from result files of earlier runs, comma-separated. */
    merge: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('./results', import.meta.url)) },
    cli: {
      type: 'string',
      default: fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url)),
    },
  },
})

const Mode = { batched: 'batched', burst: 'burst' } as const
type Mode = (typeof Mode)[keyof typeof Mode]

const SYSTEMS = values.systems.split(',') as System[]
const MODES = values.modes.split(',') as Mode[]
const CONCURRENCY = Number(values.concurrency)
const WORKERS = Number(values.workers)
const BROADCASTS = Number(values.broadcasts)
const TIMEOUT_MS = Number(values.timeout) * 1000
const STREAM = 'room:general'
/** Descriptors the server needs besides its subscribers' sockets (listener, SQLite, stdio …). */
const SERVER_FD_MARGIN = 100
/** Local addresses the subscribers connect from: 4 × the ephemeral port range of one. */
const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']

/** What one (system, mode, size) measured. */
export interface FillResult {
  readonly system: System
  readonly mode: Mode
  readonly requested: number
  readonly subscribers: number
  readonly connected: number
  readonly complete: boolean
  /** First attempt → last subscriber ready (ms). */
  readonly fillMs: number
  readonly connectLatency: Distribution
  readonly failures: Readonly<Record<string, number>>
  readonly dropped: number
  readonly memory: {
    readonly before: ProbeMemory
    readonly after: ProbeMemory
    readonly rssPerConnectionKb: number
    readonly heapPerConnectionKb: number
  }
  /** Server CPU seconds while the room filled. */
  readonly serverCpuSeconds: number
  /** CPU seconds of the other processes of the machine (not server, not clients) per second. */
  readonly foreignCores: number
  readonly serverDuringFill: ProbeStats
  readonly frames: FrameCounters & {
    /** `presenceDiff` frames received per join (Seqline). */
    readonly presenceDiffsPerJoin: number
  }
  readonly broadcast: {
    /** Per broadcast: publish → last subscriber (ms). */
    readonly reachAllMs: readonly number[]
    /** Per broadcast: publish → median subscriber (ms). */
    readonly p50Ms: readonly number[]
    readonly missing: number
  }
}

type FillWorker = WorkerProcess<FillRequest, FillReply, FillEvent>

/** Starts the server of `system`; returns it with the URL its subscribers use. */
async function startServer(
  system: System,
  dir: string,
  wrapper: readonly string[],
): Promise<{ server: ProbedServer; url: string }> {
  switch (system) {
    case System.ws: {
      const script = fileURLToPath(new URL('../fanout/raw-ws-server.ts', import.meta.url))
      const server = await startProbedServer({
        args: [script],
        nodeOptions: ['--import', 'tsx'],
        wrapper,
      })
      return { server, url: `ws://127.0.0.1:${server.port}` }
    }
    case System.socketio: {
      const script = fileURLToPath(new URL('./socketio-room-server.ts', import.meta.url))
      const server = await startProbedServer({
        args: [script],
        nodeOptions: ['--import', 'tsx'],
        wrapper,
      })
      return { server, url: `http://127.0.0.1:${server.port}` }
    }
    case System.seqline: {
      const server = await startProbedServer({
        args: serveArgs(values.cli, join(dir, 'seqline.db'), [
          '--auth',
          'dev',
          '--log-level',
          'info',
        ]),
        wrapper,
      })
      return { server, url: `ws://127.0.0.1:${server.port}/v1/ws` }
    }
  }
}

/** A publisher outside the room: `publish(tag)` sends one broadcast carrying `tag`. */
async function publisher(
  system: System,
  url: string,
): Promise<{
  publish(tag: string): void
  close(): void
}> {
  switch (system) {
    case System.ws: {
      const ws = await openWebSocket(url)
      return { publish: (tag) => ws.send(JSON.stringify({ tag })), close: () => ws.terminate() }
    }
    case System.socketio: {
      const socket: SocketIoClient = io(url, { transports: ['websocket'], forceNew: true })
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      return {
        publish: (tag) => void socket.emit('pub', STREAM, { tag }),
        close: () => void socket.disconnect(),
      }
    }
    case System.seqline: {
      const ws: WebSocket = await openWebSocket(url)
      const welcome = nextFrame(ws, 'welcome')
      ws.send(JSON.stringify({ t: 'hello', token: 'publisher' }))
      await welcome
      let seq = 0
      return {
        publish: (tag) =>
          ws.send(
            JSON.stringify({ t: 'pub', stream: STREAM, epoch: 0, seq: seq++, data: { tag } }),
          ),
        close: () => ws.terminate(),
      }
    }
  }
}

function merge(all: readonly FrameCounters[]): FrameCounters {
  const byType: Record<string, { frames: number; bytes: number }> = {}
  for (const c of all) {
    for (const [type, v] of Object.entries(c.byType)) {
      const entry = (byType[type] ??= { frames: 0, bytes: 0 })
      entry.frames += v.frames
      entry.bytes += v.bytes
    }
  }
  return {
    frames: all.reduce((n, c) => n + c.frames, 0),
    bytes: all.reduce((n, c) => n + c.bytes, 0),
    dropped: all.reduce((n, c) => n + c.dropped, 0),
    byType,
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function fill(
  system: System,
  mode: Mode,
  requested: number,
  subscribers: number,
  fd: ReturnType<typeof planOpenFiles>,
): Promise<FillResult> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-fill-'))
  const { server, url } = await startServer(system, dir, fd.wrapper)
  const workers: FillWorker[] = Array.from({ length: WORKERS }, () =>
    startWorker<FillRequest, FillReply, FillEvent>(new URL('./fill-worker.ts', import.meta.url), {
      wrapper: fd.wrapper,
    }),
  )
  try {
    await sleep(1_000)
    const before = await server.memory()
    const snapshotDir = values['heap-snapshot']
    if (snapshotDir !== undefined) mkdirSync(snapshotDir, { recursive: true })
    const snapshot = (when: string): Promise<void> | undefined =>
      snapshotDir === undefined
        ? undefined
        : server.heapSnapshot(
            join(snapshotDir, `${system}-${mode}-${subscribers}-${when}.heapsnapshot`),
          )
    await snapshot('before')
    await server.reset()
    const cpu0 = cpuSeconds(server.pid)
    const busy0 = machineBusySeconds()
    const ours0 = workers.reduce((n, w) => n + cpuSeconds(w.pid), cpuSeconds(process.pid))
    if (values['cpu-prof'] !== undefined) await server.profileStart()
    const t0 = monotonicMs()
    const deadlineMs = t0 + TIMEOUT_MS
    const share = (w: number): { first: number; count: number } => {
      const base = Math.floor(subscribers / WORKERS)
      const first = w * base
      return { first, count: w === WORKERS - 1 ? subscribers - first : base }
    }
    const progress = new Array<number>(WORKERS).fill(0)
    let lastPrint = 0
    workers.forEach((w, i) =>
      w.onEvent((event) => {
        progress[i] = event.connected
        if (monotonicMs() - lastPrint > 10_000) {
          lastPrint = monotonicMs()
          const total = progress.reduce((a, b) => a + b, 0)
          process.stdout.write(
            `  … ${total}/${subscribers} after ${((lastPrint - t0) / 1000).toFixed(0)} s\n`,
          )
        }
      }),
    )
    const replies = await Promise.all(
      workers.map((w, i) =>
        ask(
          w,
          {
            type: 'connect',
            system,
            url,
            stream: STREAM,
            ...share(i),
            concurrency: mode === Mode.batched ? Math.ceil(CONCURRENCY / WORKERS) : subscribers,
            sourceAddresses: SOURCE_ADDRESSES,
            deadlineMs,
          },
          'connected',
        ),
      ),
    )
    const fillMs =
      Math.max(...replies.map((r) => r.finishedMs)) - Math.min(...replies.map((r) => r.startedMs))
    const serverCpuSeconds = cpuSeconds(server.pid) - cpu0
    const ours = workers.reduce((n, w) => n + cpuSeconds(w.pid), cpuSeconds(process.pid)) - ours0
    const foreignCores = (machineBusySeconds() - busy0 - serverCpuSeconds - ours) / (fillMs / 1000)
    const serverDuringFill = await server.stats()
    if (values['cpu-prof'] !== undefined) {
      mkdirSync(values['cpu-prof'], { recursive: true })
      await server.profileStop(
        join(values['cpu-prof'], `fill-${system}-${mode}-${subscribers}.cpuprofile`),
      )
    }
    const counters = merge(
      await Promise.all(
        workers.map(async (w) => (await ask(w, { type: 'counters' }, 'counters')).counters),
      ),
    )
    const connected = replies.reduce((n, r) => n + r.connected, 0)
    const failures: Record<string, number> = {}
    for (const r of replies) {
      for (const [cause, n] of Object.entries(r.failures))
        failures[cause] = (failures[cause] ?? 0) + n
    }
    // Idle: let the last frames and timers settle before reading memory.
    await sleep(2_000)
    const after = await server.memory()
    await snapshot('after')

    const reachAllMs: number[] = []
    const p50Ms: number[] = []
    let missing = 0
    if (connected > 0) {
      const pub = await publisher(system, url)
      for (let b = 0; b < BROADCASTS; b++) {
        const tag = `bcast-${b}-${Date.now()}`
        await Promise.all(workers.map((w) => ask(w, { type: 'expect', tag }, 'armed')))
        const sentMs = monotonicMs()
        pub.publish(tag)
        const received = await Promise.all(
          workers.map((w) => ask(w, { type: 'collect', timeoutMs: 60_000 }, 'received')),
        )
        const times = received.flatMap((r) => r.times).map((t) => t - sentMs)
        missing += received.reduce((n, r) => n + r.missing, 0)
        reachAllMs.push(Math.max(...times))
        p50Ms.push(median(times))
        await sleep(500)
      }
      pub.close()
    }
    const latencies = replies.flatMap((r) => r.latencies)
    return {
      system,
      mode,
      requested,
      subscribers,
      connected,
      complete: connected === subscribers,
      fillMs,
      connectLatency: distributionOf(latencies),
      failures,
      dropped: (
        await Promise.all(
          workers.map(
            async (w) => (await ask(w, { type: 'counters' }, 'counters')).counters.dropped,
          ),
        )
      ).reduce((a, b) => a + b, 0),
      memory: {
        before,
        after,
        rssPerConnectionKb: (after.rss - before.rss) / 1024 / Math.max(1, connected),
        heapPerConnectionKb: (after.heapUsed - before.heapUsed) / 1024 / Math.max(1, connected),
      },
      serverCpuSeconds,
      foreignCores,
      serverDuringFill,
      frames: {
        ...counters,
        presenceDiffsPerJoin:
          (counters.byType['presenceDiff']?.frames ?? 0) / Math.max(1, connected),
      },
      broadcast: { reachAllMs, p50Ms, missing },
    }
  } finally {
    await Promise.all(workers.map((w) => w.request({ type: 'close' }).catch(() => undefined)))
    await Promise.all(workers.map((w) => w.stop()))
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const NAMES: Record<System, string> = {
  ws: 'raw ws',
  socketio: 'Socket.IO 4.8',
  seqline: 'Seqline (SQLite)',
}
const COLORS: Record<System, string> = { ws: '#7a7a7a', socketio: '#d9822b', seqline: '#1f5fbf' }

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–'

function markdown(results: readonly FillResult[], m: Machine, fdNote: string): string {
  const lines = [
    `bench/connections/fill — ${machineLine(m)}; ${fdNote}`,
    '',
    '| subscribers | connect | server | ready | time to connect all (s) | connect p50 / p99 (ms) | retried attempts | server kB/conn RSS | heap kB/conn | server CPU s | broadcast → all (ms) | → median (ms) | presence diffs / join | presence snapshot MB | other load (cores) |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const order = Object.values(System)
  const sorted = [...results].sort(
    (a, b) =>
      a.subscribers - b.subscribers ||
      a.mode.localeCompare(b.mode) ||
      order.indexOf(a.system) - order.indexOf(b.system),
  )
  for (const r of sorted) {
    const retried = Object.values(r.failures).reduce((a, b) => a + b, 0)
    lines.push(
      `| ${fmt(r.subscribers)}${r.subscribers < r.requested ? ` (of ${fmt(r.requested)})` : ''} | ${r.mode} | ${NAMES[r.system]} | ${fmt(r.connected)}${r.complete ? '' : ' ⚠'} | ${fmt(r.fillMs / 1000, 1)} | ${fmt(r.connectLatency.p50, 1)} / ${fmt(r.connectLatency.p99, 0)} | ${fmt(retried)} | ${fmt(r.memory.rssPerConnectionKb, 1)} | ${fmt(r.memory.heapPerConnectionKb, 1)} | ${fmt(r.serverCpuSeconds, 1)} | ${fmt(median(r.broadcast.reachAllMs), 1)} | ${fmt(median(r.broadcast.p50Ms), 1)} | ${r.system === System.seqline ? fmt(r.frames.presenceDiffsPerJoin, 0) : '–'} | ${r.system === System.seqline ? fmt((r.frames.byType['presence']?.bytes ?? 0) / 1e6, 1) : '–'} | ${fmt(r.foreignCores, 2)} |`,
    )
  }
  lines.push(
    '',
    `${results.some((r) => !r.complete) ? '⚠: not every subscriber was ready before the time limit. ' : ''}Retried attempts: failed attempts the subscriber made again (causes in the JSON).`,
  )
  return lines.join('\n')
}

function chart(results: readonly FillResult[], m: Machine): string {
  const panels: ChartPanel[] = []
  const systems = Object.values(System).filter((s) => results.some((r) => r.system === s))
  const modes = Object.values(Mode).filter((mode) => results.some((r) => r.mode === mode))
  const series = (mode: Mode, value: (r: FillResult) => number | undefined) =>
    systems.map((system) => ({
      name: NAMES[system],
      color: COLORS[system],
      points: results
        .filter((r) => r.system === system && r.mode === mode)
        .map((r) => ({
          x: r.subscribers,
          y: r.connected > 0 ? value(r) : undefined,
          lowerBound: !r.complete,
        })),
    }))
  const main = modes.includes(Mode.batched) ? Mode.batched : Mode.burst
  for (const mode of modes) {
    panels.push({
      title: `Time to connect all (${mode === Mode.batched ? `${CONCURRENCY} at a time` : 'all at once'}); hollow: time limit hit`,
      xLabel: 'subscribers in one room',
      yLabel: 'seconds (log)',
      logY: true,
      series: series(mode, (r) => r.fillMs / 1000),
    })
  }
  panels.push(
    {
      title: `Server RSS per connection (${main}, idle, subscribed)`,
      xLabel: 'subscribers in one room',
      yLabel: 'kB per connection',
      series: series(main, (r) => r.memory.rssPerConnectionKb),
    },
    {
      title: `One broadcast: publish → last subscriber (${main})`,
      xLabel: 'subscribers in one room',
      yLabel: 'ms (log)',
      logY: true,
      series: series(main, (r) => median(r.broadcast.reachAllMs)),
    },
  )
  return svgChart(panels, {
    title: 'bench/connections/fill — one room, N subscribers (each its own user)',
    subtitle: machineLine(m),
  })
}

// ---------------------------------------------------------------------------------------------

if (values.merge !== undefined) {
  const files = values.merge.split(',').map(
    (file) =>
      JSON.parse(readFileSync(file, 'utf8')) as {
        machine: Machine
        fdNote: string
        results: FillResult[]
      },
  )
  const merged = files.flatMap((f) => f.results)
  const first = files[0]!
  const table = markdown(merged, first.machine, first.fdNote)
  mkdirSync(values.out, { recursive: true })
  writeFileSync(
    join(values.out, 'fill.json'),
    `${JSON.stringify({ ...first, mergedFrom: files.map((f) => f.machine), results: merged }, null, 2)}\n`,
  )
  writeFileSync(join(values.out, 'fill.md'), `${table}\n`)
  writeFileSync(join(values.out, 'fill.svg'), chart(merged, first.machine))
  console.log(`${table}\n\nwritten: ${join(values.out, 'fill.{json,md,svg}')}`)
  process.exit(0)
}

const m = machine()
const sizes = values.sizes.split(',').map(Number)
const fd = planOpenFiles(Math.max(...sizes) + SERVER_FD_MARGIN)
const fdNote = `${fd.note}; subscribers per run capped at ${fd.limit - SERVER_FD_MARGIN}`
console.log(fdNote)
const results: FillResult[] = []
/** "system/mode" pairs that did not finish a smaller size in time. */
const gaveUp = new Set<string>()
for (const requested of sizes) {
  const subscribers = Math.min(requested, fd.limit - SERVER_FD_MARGIN)
  for (const mode of MODES) {
    for (const system of SYSTEMS) {
      if (gaveUp.has(`${system}/${mode}`)) {
        console.log(
          `${NAMES[system]}: ${subscribers} subscribers, ${mode}: skipped (a smaller room timed out)`,
        )
        continue
      }
      console.log(`${NAMES[system]}: ${subscribers} subscribers, ${mode} …`)
      const result = await fill(system, mode, requested, subscribers, fd)
      results.push(result)
      if (!result.complete) gaveUp.add(`${system}/${mode}`)
      console.log(
        `  ${result.connected}/${subscribers} ready in ${(result.fillMs / 1000).toFixed(1)} s; ` +
          `RSS ${result.memory.rssPerConnectionKb.toFixed(1)} kB/conn; broadcast → all ${median(result.broadcast.reachAllMs).toFixed(1)} ms`,
      )
    }
  }
}
m.loadAfter = (await import('node:os')).loadavg()[0]
mkdirSync(values.out, { recursive: true })
writeFileSync(
  join(values.out, 'fill.json'),
  `${JSON.stringify({ machine: m, fdNote, concurrency: CONCURRENCY, workers: WORKERS, results }, null, 2)}\n`,
)
const table = markdown(results, m, fdNote)
writeFileSync(join(values.out, 'fill.md'), `${table}\n`)
writeFileSync(join(values.out, 'fill.svg'), chart(results, m))
console.log(`\n${table}\n\nwritten: ${join(values.out, 'fill.{json,md,svg}')}`)
process.exit(0)
