// bench/connections/storm — the reconnect storm: N connected SDK clients (`@seqline/client`,
// WebSocket transport, memory storage, each its own user) in one room, each having received
// messages; the server is killed with SIGKILL and started again on the same port and database.
// Measured: the time until every client is open and caught up again (its subscription's
// `subscribed` event, i.e. `caughtUp` processed, while the connection is open), and that every
// client received every message exactly once and in order — messages published before the kill,
// while the server was down (queued in the publisher's outbox) and after the restart.
//
// Also recorded: why the clients' attempts failed, how many dials each needed, dial → welcome and
// open → caught-up latencies, and inside the restarted server its CPU, event-loop delay and SQLite
// commits (bench/support/server-probe.ts).
//
//   npm run build && npx tsx bench/connections/storm.ts [--clients 10000] [--workers 2]
//       [--concurrency 50] [--before 10] [--during 5] [--after 10] [--down-ms 0]
//       [--timeout 600] [--out bench/connections/results] [--cpu-prof <dir>]
//
// Results: <out>/storm-<clients>.json, .md and .svg.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from '@seqline/client'
import { cpuSeconds } from '../support/cpu-seconds.js'
import { type Distribution, distributionOf } from '../support/distribution.js'
import { planOpenFiles } from '../support/fd-limit.js'
import { machine, machineBusySeconds, machineLine } from '../support/machine.js'
import { type ProbedServer, startProbedServer } from '../support/probed-server.js'
import type { ProbeStats } from '../support/server-probe.js'
import { svgChart } from '../support/svg-chart.js'
import { type WorkerProcess, startWorker, ask } from '../support/worker-process.js'
import { monotonicMs } from './fill-protocol.js'
import type { StormEvent, StormRecovery, StormReply, StormRequest } from './storm-protocol.js'
import { serveArgs } from '../support/serve-args.js'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
    before: { type: 'string', default: '10' },
    during: { type: 'string', default: '5' },
    after: { type: 'string', default: '10' },
    'down-ms': { type: 'string', default: '0' },
    timeout: { type: 'string', default: '600' },
    /** Directory for V8 CPU profiles of the restarted server (until all caught up) and clients. */
    'cpu-prof': { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('./results', import.meta.url)) },
    cli: {
      type: 'string',
      default: fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url)),
    },
  },
})
const WORKERS = Number(values.workers)
const CONCURRENCY = Number(values.concurrency)
const BEFORE = Number(values.before)
const DURING = Number(values.during)
const AFTER = Number(values.after)
const DOWN_MS = Number(values['down-ms'])
const TIMEOUT_MS = Number(values.timeout) * 1000
const STREAM = 'room:general'
const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
const SERVER_FD_MARGIN = 100

type StormWorker = WorkerProcess<StormRequest, StormReply, StormEvent>

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      )
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The room never filled: not every client was subscribed before the time limit. */
export interface FillIncomplete {
  readonly kind: 'fill-incomplete'
  readonly requested: number
  readonly clients: number
  readonly fdNote: string
  readonly fillMs: number
  readonly ready: number
}

/** The storm's result, written as JSON. */
export interface StormResult {
  readonly kind: 'measured'
  readonly requested: number
  readonly clients: number
  readonly fdNote: string
  /** Time to connect and subscribe every client before the kill. */
  readonly fillMs: number
  readonly ready: number
  readonly published: { readonly before: number; readonly during: number; readonly after: number }
  /** SIGKILL → process gone → new process spawned → listening (ms since the kill). */
  readonly restart: { readonly exitedMs: number; readonly listeningMs: number }
  /** Clients open and caught up, and the time the last one was (ms since listening). */
  readonly recovered: number
  readonly allCaughtUpMs: number | undefined
  /** Caught up by then: seconds since listening → clients. */
  readonly caughtUpBy: Readonly<Record<string, number>>
  readonly caughtUpMs: Distribution
  readonly connectMs: Distribution
  readonly subscribeMs: Distribution
  readonly dials: Distribution
  readonly causes: Readonly<Record<string, number>>
  readonly relapses: number
  /** The restarted server from its start until every client was caught up. */
  readonly server: {
    readonly cpuSeconds: number
    readonly cores: number
    readonly probe: ProbeStats
    /** Server CPU in cores over time: [seconds since listening, cores]. */
    readonly cpuTimeline: readonly (readonly [number, number])[]
  }
  /** Clients caught up over time (from the workers' progress): [seconds since listening, n]. */
  readonly progress: readonly (readonly [number, number])[]
  readonly foreignCores: number
  /** The client processes during the recovery: CPU (cores) and their worst event-loop delay. */
  readonly clientProcesses: {
    readonly cores: number
    readonly eventLoopDelayP99: number
    readonly eventLoopDelayMax: number
  }
  readonly delivery: {
    readonly lost: number
    readonly duplicated: number
    readonly outOfOrder: number
    readonly clientsWithProblems: number
  }
}

async function storm(requested: number): Promise<StormResult | FillIncomplete> {
  const fd = planOpenFiles(requested + SERVER_FD_MARGIN)
  const clients = Math.min(requested, fd.limit - SERVER_FD_MARGIN)
  const fdNote = `${fd.note}; clients capped at ${fd.limit - SERVER_FD_MARGIN}`
  const dir = mkdtempSync(join(tmpdir(), 'seqline-bench-storm-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const start = (): Promise<ProbedServer> =>
    startProbedServer({
      args: serveArgs(
        values.cli,
        join(dir, 'seqline.db'),
        ['--auth', 'dev', '--log-level', 'info'],
        port,
      ),
      wrapper: fd.wrapper,
    })
  let server = await start()
  const workers: StormWorker[] = Array.from({ length: WORKERS }, () =>
    startWorker<StormRequest, StormReply, StormEvent>(
      new URL('./storm-worker.ts', import.meta.url),
      {
        wrapper: fd.wrapper,
        ...(values['cpu-prof'] === undefined
          ? {}
          : { nodeOptions: ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] }),
      },
    ),
  )
  const publisher = createClient({
    url,
    token: 'publisher',
    transport: 'websocket',
    environment: null,
  })
  const room = publisher.stream<{ i: number }>(STREAM)
  let published = 0
  const publish = (n: number): Promise<unknown>[] =>
    Array.from({ length: n }, () => room.publish({ i: published++ }))
  try {
    // 1. Fill the room.
    const progress = new Array<StormEvent>(WORKERS)
    let lastPrint = 0
    workers.forEach((w, i) =>
      w.onEvent((event) => {
        progress[i] = event
        if (monotonicMs() - lastPrint < 5_000) return
        lastPrint = monotonicMs()
        const sum = (k: 'ready' | 'open' | 'caughtUp'): number =>
          progress.reduce((n, e) => n + (e?.[k] ?? 0), 0)
        process.stdout.write(
          `  … ready ${sum('ready')}, open ${sum('open')}, caught up ${sum('caughtUp')} of ${clients}\n`,
        )
      }),
    )
    const t0 = monotonicMs()
    const share = (w: number): { first: number; count: number } => {
      const base = Math.floor(clients / WORKERS)
      return { first: w * base, count: w === WORKERS - 1 ? clients - w * base : base }
    }
    const started = await Promise.all(
      workers.map((w, i) =>
        ask(
          w,
          {
            type: 'start',
            url,
            stream: STREAM,
            ...share(i),
            concurrency: Math.ceil(CONCURRENCY / WORKERS),
            sourceAddresses: SOURCE_ADDRESSES,
            deadlineMs: t0 + TIMEOUT_MS,
          },
          'started',
        ),
      ),
    )
    const fillMs = monotonicMs() - t0
    const ready = started.reduce((n, s) => n + s.ready, 0)
    console.log(`  ${ready}/${clients} subscribed in ${(fillMs / 1000).toFixed(1)} s`)
    if (ready < clients) {
      return { kind: 'fill-incomplete', requested, clients, fdNote, fillMs, ready }
    }

    // 2. Messages before the kill, received by everyone.
    await Promise.all(publish(BEFORE))
    await Promise.all(
      workers.map((w) =>
        ask(
          w,
          { type: 'await-messages', count: published, deadlineMs: monotonicMs() + 120_000 },
          'messages',
        ),
      ),
    )

    // 3. The kill, messages while the server is down, the restart.
    await Promise.all(workers.map((w) => ask(w, { type: 'arm' }, 'armed')))
    const curve: [number, number][] = []
    let listeningAt = Number.NaN
    workers.forEach((w, i) =>
      w.onEvent((event) => {
        progress[i] = event
        if (Number.isNaN(listeningAt)) return
        const caughtUp = progress.reduce((n, e) => n + (e?.caughtUp ?? 0), 0)
        curve.push([(monotonicMs() - listeningAt) / 1000, caughtUp])
      }),
    )
    const killedAt = monotonicMs()
    await server.kill9()
    const exitedMs = monotonicMs() - killedAt
    const during = publish(DURING)
    if (DOWN_MS > 0) await sleep(DOWN_MS)
    const busy0 = machineBusySeconds()
    const ours0 = workers.reduce((n, w) => n + cpuSeconds(w.pid), cpuSeconds(process.pid))
    const clientCpu0 = workers.reduce((n, w) => n + cpuSeconds(w.pid), 0)
    server = await start()
    listeningAt = monotonicMs()
    if (values['cpu-prof'] !== undefined) await server.profileStart()
    const listeningMs = listeningAt - killedAt
    console.log(`  killed; listening again ${(listeningMs / 1000).toFixed(2)} s after the kill`)
    const cpuTimeline: [number, number][] = []
    let lastCpu = cpuSeconds(server.pid)
    let lastAt = monotonicMs()
    const sampler = setInterval(() => {
      const cpu = cpuSeconds(server.pid)
      const now = monotonicMs()
      cpuTimeline.push([(now - listeningAt) / 1000, (cpu - lastCpu) / ((now - lastAt) / 1000)])
      lastCpu = cpu
      lastAt = now
    }, 500)
    const recoveries: StormRecovery[] = (
      await Promise.all(
        workers.map((w) =>
          ask(w, { type: 'await-recovered', deadlineMs: listeningAt + TIMEOUT_MS }, 'recovered'),
        ),
      )
    ).map((r) => r.recovery)
    const doneAt = monotonicMs()
    clearInterval(sampler)
    const serverCpu = cpuSeconds(server.pid)
    const probe = await server.stats()
    if (values['cpu-prof'] !== undefined) {
      mkdirSync(values['cpu-prof'], { recursive: true })
      await server.profileStop(join(values['cpu-prof'], `storm-server-${clients}.cpuprofile`))
    }
    const clientCpu = workers.reduce((n, w) => n + cpuSeconds(w.pid), 0) - clientCpu0
    const ours = workers.reduce((n, w) => n + cpuSeconds(w.pid), cpuSeconds(process.pid)) - ours0
    const windowS = (doneAt - listeningAt) / 1000
    const foreignCores = (machineBusySeconds() - busy0 - serverCpu - ours) / windowS

    // 4. Messages after the restart; then every client must have each message exactly once.
    await Promise.all(during)
    await Promise.all(publish(AFTER))
    await Promise.all(
      workers.map((w) =>
        ask(
          w,
          { type: 'await-messages', count: published, deadlineMs: monotonicMs() + 300_000 },
          'messages',
        ),
      ),
    )
    const verified = await Promise.all(
      workers.map((w) => ask(w, { type: 'verify', total: published }, 'verified')),
    )

    const caughtUpAt = recoveries.flatMap((r) => r.caughtUpAt).map((t) => t - listeningAt)
    const recovered = recoveries.reduce((n, r) => n + r.recovered, 0)
    const causes: Record<string, number> = {}
    for (const r of recoveries) {
      for (const [cause, n] of Object.entries(r.causes)) causes[cause] = (causes[cause] ?? 0) + n
    }
    const caughtUpBy: Record<string, number> = {}
    for (const s of [1, 2, 5, 10, 20, 30, 60, 120, 300, 600]) {
      caughtUpBy[`${s}s`] = caughtUpAt.filter((t) => t <= s * 1000).length
    }
    return {
      kind: 'measured',
      requested,
      clients,
      fdNote,
      fillMs,
      ready,
      published: { before: BEFORE, during: DURING, after: AFTER },
      restart: { exitedMs, listeningMs },
      recovered,
      allCaughtUpMs: recovered === clients ? Math.max(...caughtUpAt) : undefined,
      caughtUpBy,
      caughtUpMs: distributionOf(caughtUpAt),
      connectMs: distributionOf(recoveries.flatMap((r) => r.connectMs)),
      subscribeMs: distributionOf(recoveries.flatMap((r) => r.subscribeMs)),
      dials: distributionOf(recoveries.flatMap((r) => r.dials)),
      causes,
      relapses: recoveries.reduce((n, r) => n + r.relapses, 0),
      server: {
        cpuSeconds: serverCpu,
        cores: serverCpu / windowS,
        probe,
        cpuTimeline,
      },
      progress: curve,
      foreignCores,
      clientProcesses: {
        cores: clientCpu / windowS,
        eventLoopDelayP99: Math.max(...recoveries.map((r) => r.eventLoopDelay.p99)),
        eventLoopDelayMax: Math.max(...recoveries.map((r) => r.eventLoopDelay.max)),
      },
      delivery: {
        lost: verified.reduce((n, v) => n + v.lost, 0),
        duplicated: verified.reduce((n, v) => n + v.duplicated, 0),
        outOfOrder: verified.reduce((n, v) => n + v.outOfOrder, 0),
        clientsWithProblems: verified.reduce((n, v) => n + v.clientsWithProblems, 0),
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

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function markdown(r: StormResult | FillIncomplete, line: string): string {
  if (r.kind === 'fill-incomplete') {
    return [
      `bench/connections/storm — ${r.clients} SDK clients; ${line}`,
      '',
      `The room did not fill: ${fmt(r.ready)} of ${fmt(r.clients)} clients were subscribed after ${fmt(r.fillMs / 1000, 0)} s (--timeout); the storm was not run.`,
    ].join('\n')
  }
  const d = (x: Distribution, digits = 0): string =>
    `${fmt(x.p50, digits)} / ${fmt(x.p90, digits)} / ${fmt(x.p99, digits)} / ${fmt(x.max, digits)}`
  return [
    `bench/connections/storm — ${r.clients} SDK clients${r.clients < r.requested ? ` (of ${r.requested}; ${r.fdNote})` : ''}; ${line}`,
    '',
    '| measure | value |',
    '| --- | ---: |',
    `| clients subscribed before the kill | ${fmt(r.ready)} of ${fmt(r.clients)} in ${fmt(r.fillMs / 1000, 1)} s |`,
    `| SIGKILL → listening again | ${fmt(r.restart.listeningMs / 1000, 2)} s |`,
    `| open and caught up again | ${fmt(r.recovered)} of ${fmt(r.clients)} |`,
    `| **listening → all caught up** | **${r.allCaughtUpMs === undefined ? 'not within the time limit' : `${fmt(r.allCaughtUpMs / 1000, 1)} s`}** |`,
    `| caught up after 5 / 10 / 20 / 60 s | ${['5s', '10s', '20s', '60s'].map((k) => fmt(r.caughtUpBy[k])).join(' / ')} |`,
    `| listening → caught up, p50 / p90 / p99 / max (s) | ${d({ ...r.caughtUpMs, p50: r.caughtUpMs.p50 / 1000, p90: r.caughtUpMs.p90 / 1000, p99: r.caughtUpMs.p99 / 1000, max: r.caughtUpMs.max / 1000 }, 1)} |`,
    `| dial → welcome, p50 / p90 / p99 / max (ms) | ${d(r.connectMs)} |`,
    `| open → caught up, p50 / p90 / p99 / max (ms) | ${d(r.subscribeMs)} |`,
    `| dials per client, p50 / p90 / p99 / max | ${d(r.dials)} |`,
    `| failed attempts and losses by cause | ${Object.entries(r.causes)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ')} |`,
    `| clients that lost the connection again after catching up | ${fmt(r.relapses)} |`,
    `| restarted server: CPU (cores, until all caught up) | ${fmt(r.server.cores, 2)} |`,
    `| restarted server: event-loop delay p50 / p99 / max (ms) | ${fmt(r.server.probe.eventLoopDelay.p50, 1)} / ${fmt(r.server.probe.eventLoopDelay.p99, 0)} / ${fmt(r.server.probe.eventLoopDelay.max, 0)} |`,
    `| restarted server: SQLite commits, total time (s) / p99 (ms) | ${fmt(r.server.probe.commits.count)}, ${fmt(r.server.probe.commits.total / 1000, 1)} / ${fmt(r.server.probe.commits.p99, 1)} |`,
    `| restarted server: GC pauses, total (s) / max (ms) | ${fmt(r.server.probe.gc.total / 1000, 2)} / ${fmt(r.server.probe.gc.max, 0)} |`,
    `| client processes: CPU (cores) / worst event-loop delay p99, max (ms) | ${fmt(r.clientProcesses.cores, 2)} / ${fmt(r.clientProcesses.eventLoopDelayP99, 0)}, ${fmt(r.clientProcesses.eventLoopDelayMax, 0)} |`,
    `| other processes' load during the recovery (cores) | ${fmt(r.foreignCores, 2)} |`,
    `| messages (before / while down / after) | ${r.published.before} / ${r.published.during} / ${r.published.after} |`,
    `| **lost / duplicated / out of order** | **${fmt(r.delivery.lost)} / ${fmt(r.delivery.duplicated)} / ${fmt(r.delivery.outOfOrder)}** (${fmt(r.delivery.clientsWithProblems)} clients with problems) |`,
  ].join('\n')
}

function chart(r: StormResult, line: string): string {
  return svgChart(
    [
      {
        title: 'Clients open and caught up after the restart',
        xLabel: 'seconds since the server listens again',
        yLabel: 'clients',
        series: [
          {
            name: `Seqline, ${r.clients} SDK clients`,
            color: '#1f5fbf',
            points: r.progress.map(([x, y]) => ({ x, y })),
          },
        ],
      },
      {
        title: 'Restarted server CPU',
        xLabel: 'seconds since the server listens again',
        yLabel: 'cores',
        series: [
          {
            name: 'seqline serve',
            color: '#1f5fbf',
            points: r.server.cpuTimeline.map(([x, y]) => ({ x, y })),
          },
        ],
      },
    ],
    {
      title: `bench/connections/storm — kill -9 and restart under ${r.clients} clients`,
      subtitle: line,
    },
  )
}

const m = machine()
const result = await storm(Number(values.clients))
m.loadAfter = loadavg()[0]
const line = machineLine(m)
mkdirSync(values.out, { recursive: true })
const base = join(values.out, `storm-${result.clients}`)
writeFileSync(`${base}.json`, `${JSON.stringify({ machine: m, result }, null, 2)}\n`)
const table = markdown(result, line)
writeFileSync(`${base}.md`, `${table}\n`)
if (result.kind === 'measured') writeFileSync(`${base}.svg`, chart(result, line))
console.log(`\n${table}\n\nwritten: ${base}.{json,md,svg}`)
process.exit(0)
