// The fan-out load of bench/fanout: one publisher, N subscribers of one stream, small messages at
// a fixed rate; every payload carries its send time, so latency is publish → delivery to a
// subscriber socket, end to end. Shared by run.ts (the comparison), saturation.ts (--rate auto)
// and tail.ts (where Seqline's latency tail comes from).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { type ProbedServer, startProbedServer } from '../support/probed-server.js'
import type { ProbeEvent, ProbeStats } from '../support/server-probe.js'
import { nextFrame, openWebSocket as open } from '../support/ws-frames.js'
import { LatencyHistogram } from './latency-histogram.js'
import { serveArgs } from '../support/serve-args.js'

/** The built Seqline CLI of this checkout. */
export const DEFAULT_CLI = fileURLToPath(
  new URL('../../packages/server/dist/cli.js', import.meta.url),
)

export interface FanoutOptions {
  readonly subscribers: number
  /** Messages per second offered. */
  readonly rate: number
  readonly seconds: number
  readonly warmupSeconds: number
  /** Approximate size of a message's JSON payload. */
  readonly bytes: number
  /** Keep every delivery (send time, latency) for tail analysis. */
  readonly keepDeliveries?: boolean
  /** Called when the measured window starts and ends (e.g. to attach `perf` to the server). */
  readonly onWindow?: (phase: 'start' | 'end', target: FanoutTarget) => void
}

/** One delivery: when its message was sent (monotonic ms) and how long it took (ms). */
export interface Delivery {
  readonly sentMs: number
  readonly latencyMs: number
}

export interface FanoutResult {
  readonly name: string
  readonly rate: number
  readonly sent: number
  readonly delivered: number
  readonly deliveriesPerSec: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  /** p50 and p99 of the first and last quarter of the window: does latency run away? */
  readonly firstQuarter: { readonly p50: number; readonly p99: number }
  readonly lastQuarter: { readonly p50: number; readonly p99: number }
  readonly lost: number
  /** Server CPU seconds (user + system) per second of the measured window. */
  readonly serverCpu: number
  /** Inside the server during the window (bench/support/server-probe.ts). */
  readonly server: ProbeStats
  /** GC pauses of the load generator itself during the window (ms): its own noise. */
  readonly generatorGc: readonly ProbeEvent[]
  readonly deliveries?: readonly Delivery[]
  /** Server-side blocking events during the window (with keepDeliveries). */
  readonly serverEvents?: readonly ProbeEvent[]
}

const TICK_MS = 10
const T0_KEY = Buffer.from('"t0":')
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** Reads the send time out of a frame without parsing it (the subscribers must stay cheap). */
function sentAtOf(data: Buffer): number {
  const at = data.indexOf(T0_KEY)
  if (at < 0) return Number.NaN
  const end = data.indexOf(44 /* , */, at)
  return Number(data.toString('latin1', at + T0_KEY.length, end))
}

/** A running server under load: how to reach it as a subscriber and as the publisher. */
export interface FanoutTarget {
  readonly name: string
  readonly server: ProbedServer
  connectSubscriber(): Promise<WebSocket>
  connectPublisher(): Promise<(data: unknown) => void>
  stop(): Promise<void>
}

/**
 * Runs the load against `target`: connects the subscribers and the publisher, offers `rate`
 * messages/s for warm-up + measured seconds, counts deliveries of messages sent in the window.
 */
export async function measureFanout(
  target: FanoutTarget,
  options: FanoutOptions,
): Promise<FanoutResult> {
  const { subscribers: count, rate, seconds, warmupSeconds, bytes } = options
  const pad = 'x'.repeat(Math.max(0, bytes - 40))
  const latency = new LatencyHistogram()
  const quarters = [new LatencyHistogram(), new LatencyHistogram()]
  const kept: Delivery[] = []
  // performance.now() → monotonic ms, to line deliveries up with the server's events.
  const toMonotonic = monotonicMs() - performance.now()
  let measuring = false
  let measureStart = Number.POSITIVE_INFINITY
  let windowEnd = Number.POSITIVE_INFINITY
  let delivered = 0
  const sockets: WebSocket[] = []
  for (let i = 0; i < count; i++) {
    const ws = await target.connectSubscriber()
    ws.on('message', (data: Buffer) => {
      if (!measuring) return
      const sentAt = sentAtOf(data)
      if (!(sentAt >= measureStart)) return
      const ms = performance.now() - sentAt
      delivered += 1
      latency.record(ms)
      const quarter = (sentAt - measureStart) / (windowEnd - measureStart)
      if (quarter < 0.25) quarters[0]!.record(ms)
      else if (quarter >= 0.75 && quarter <= 1) quarters[1]!.record(ms)
      if (options.keepDeliveries === true)
        kept.push({ sentMs: sentAt + toMonotonic, latencyMs: ms })
    })
    sockets.push(ws)
  }
  const publish = await target.connectPublisher()
  const generatorGc: ProbeEvent[] = []
  const gcObserver = new PerformanceObserver((list) => {
    if (!measuring) return
    for (const e of list.getEntries()) {
      generatorGc.push({ kind: 'gc', startMs: e.startTime + toMonotonic, durationMs: e.duration })
    }
  })
  gcObserver.observe({ entryTypes: ['gc'] })
  let cpuStart = Number.NaN
  let sent = 0
  const perTick = (rate * TICK_MS) / 1000
  const started = performance.now()
  const total = (warmupSeconds + seconds) * 1000
  await new Promise<void>((resolve) => {
    let ticks = 0
    let owed = 0
    const timer = setInterval(() => {
      const elapsed = performance.now() - started
      if (!measuring && elapsed >= warmupSeconds * 1000) {
        measuring = true
        measureStart = performance.now()
        windowEnd = measureStart + seconds * 1000
        cpuStart = cpuSeconds(target.server.pid)
        void target.server.reset()
        options.onWindow?.('start', target)
      }
      if (elapsed >= total) {
        clearInterval(timer)
        options.onWindow?.('end', target)
        resolve()
        return
      }
      // Catch up on ticks the timer fired late for, so the offered rate stays exact.
      const due = Math.floor(elapsed / TICK_MS) + 1
      for (; ticks < due; ticks++) {
        owed += perTick
        for (; owed >= 1; owed -= 1) {
          const now = performance.now()
          if (measuring) sent += 1
          publish({ t0: now, pad })
        }
      }
    }, TICK_MS)
  })
  const windowMs = performance.now() - measureStart
  const serverCpu = (cpuSeconds(target.server.pid) - cpuStart) / (windowMs / 1000)
  const server = await target.server.stats()
  const serverEvents = options.keepDeliveries === true ? await target.server.timeline() : undefined
  // Let in-flight deliveries land before counting.
  await new Promise((r) => setTimeout(r, 1500))
  measuring = false
  gcObserver.disconnect()
  for (const ws of sockets) ws.terminate()
  return {
    name: target.name,
    rate,
    sent,
    delivered,
    deliveriesPerSec: delivered / (windowMs / 1000),
    p50: latency.percentile(50),
    p90: latency.percentile(90),
    p99: latency.percentile(99),
    p999: latency.percentile(99.9),
    max: latency.percentile(100),
    firstQuarter: { p50: quarters[0]!.percentile(50), p99: quarters[0]!.percentile(99) },
    lastQuarter: { p50: quarters[1]!.percentile(50), p99: quarters[1]!.percentile(99) },
    lost: sent * count - delivered,
    serverCpu,
    server,
    generatorGc,
    ...(options.keepDeliveries === true ? { deliveries: kept, serverEvents } : {}),
  }
}

export interface SeqlineTargetOptions {
  /** Path of the Seqline CLI (`packages/server/dist/cli.js` of some checkout). */
  readonly cli?: string
  readonly subscribers: number
  readonly rate: number
  /** Node options for the server, e.g. `--cpu-prof`. */
  readonly nodeOptions?: readonly string[]
  /** SQLite pragmas the probe applies after the server's own (experiments only). */
  readonly sqlitePragmas?: string
}

/** `seqline serve` on SQLite in a temp dir, limits lifted for one publisher and N subscribers. */
export async function seqlineTarget(options: SeqlineTargetOptions): Promise<FanoutTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-'))
  const server = await startProbedServer({
    nodeOptions: options.nodeOptions ?? [],
    args: serveArgs(options.cli ?? DEFAULT_CLI, join(dir, 'bench.db'), [
      '--publish-rate',
      String(options.rate * 10),
      '--publish-burst',
      String(options.rate * 10),
      '--max-clients-per-user',
      String(options.subscribers + 10),
    ]),
    env:
      options.sqlitePragmas === undefined
        ? {}
        : { SEQLINE_PROBE_SQLITE_PRAGMAS: options.sqlitePragmas },
  })
  const url = `ws://127.0.0.1:${server.port}/v1/ws`
  return {
    name: 'seqline (durable, SQLite)',
    server,
    async connectSubscriber() {
      const ws = await open(url)
      ws.send(JSON.stringify({ t: 'hello', token: 'bench-sub' }))
      await nextFrame(ws, 'welcome')
      ws.send(JSON.stringify({ t: 'sub', stream: 'bench:fanout', from: 'latest' }))
      await nextFrame(ws, 'caughtUp')
      return ws
    },
    async connectPublisher() {
      const ws = await open(url)
      ws.send(JSON.stringify({ t: 'hello', token: 'bench-pub' }))
      await nextFrame(ws, 'welcome')
      let seq = 0
      return (data) => {
        ws.send(JSON.stringify({ t: 'pub', stream: 'bench:fanout', epoch: 0, seq: seq++, data }))
      }
    },
    async stop() {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The baseline: a plain `ws` broadcast server (raw-ws-server.ts). */
export async function rawWsTarget(
  options: { readonly nodeOptions?: readonly string[] } = {},
): Promise<FanoutTarget> {
  const script = fileURLToPath(new URL('./raw-ws-server.ts', import.meta.url))
  const server = await startProbedServer({
    nodeOptions: [...(options.nodeOptions ?? []), '--import', 'tsx'],
    args: [script],
  })
  const url = `ws://127.0.0.1:${server.port}`
  return {
    name: 'raw ws broadcast (no storage)',
    server,
    connectSubscriber: () => open(url),
    async connectPublisher() {
      const ws = await open(url)
      return (data) => ws.send(JSON.stringify(data))
    },
    stop: () => server.stop(),
  }
}

/** Starts a target, measures it, stops it. */
export async function runFanout(
  start: () => Promise<FanoutTarget>,
  options: FanoutOptions,
): Promise<FanoutResult> {
  const target = await start()
  try {
    return await measureFanout(target, options)
  } finally {
    await target.stop()
  }
}
