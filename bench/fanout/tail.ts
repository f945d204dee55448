// bench/fanout/tail — where Seqline's fan-out latency tail comes from, measured. The fan-out load
// of run.ts (one publisher, N subscribers) at one rate, on a raw `ws` broadcast (the baseline) and
// on Seqline, the server instrumented from outside (bench/support/server-probe.ts: event-loop
// delay, GC pauses, every SQLite commit timed and checkpoints recognised), then two kinds of
// evidence:
//
// 1. Attribution: for every delivery in Seqline's tail (latency ≥ its p99) and, for contrast,
//    around its median, the share of its latency spent inside each kind of blocking event of the
//    server's event loop — SQLite commits (the `COMMIT` statement: a WAL write; the fdatasync
//    that makes it durable runs on libuv's thread pool, off the loop), commits that also ran a
//    WAL checkpoint, GC pauses — inside those `fdatasync`s of the WAL (timed call → callback;
//    commits wait for them, the loop does not), and inside GC pauses of the load generator.
// 2. Experiments: Seqline again with one candidate removed — WAL checkpoints off
//    (`wal_autocheckpoint=0`) and fewer young GCs (`--max-semi-space-size=64`). The pragma is
//    applied by the probe for the experiment only; it is not a configuration to run with.
//
// Variants run in turn, `--rounds` times, in rotated order; medians are reported. With --perf,
// one more Seqline run counts the server's write/fsync system calls with `perf stat` and times
// each fdatasync/fsync with `perf trace`.
//
//   npm run build && npx tsx bench/fanout/tail.ts [--rate 600|auto] [--subscribers 100]
//       [--seconds 10] [--rounds 3] [--perf] [--out bench/fanout/results]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from '../support/distribution.js'
import { machine, machineLine } from '../support/machine.js'
import type { ProbeEvent, ProbeStats } from '../support/server-probe.js'
import {
  DEFAULT_CLI,
  type Delivery,
  type FanoutOptions,
  type FanoutResult,
  type FanoutTarget,
  measureFanout,
  rawWsTarget,
  seqlineTarget,
} from './fanout-load.js'
import { saturationRate } from './saturation.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '600' },
    subscribers: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string' },
    perf: { type: 'boolean', default: false },
    cli: { type: 'string', default: DEFAULT_CLI },
    out: { type: 'string', default: fileURLToPath(new URL('./results', import.meta.url)) },
  },
})
const SUBSCRIBERS = Number(values.subscribers)

interface Variant {
  readonly name: string
  readonly description: string
  start(rate: number): Promise<FanoutTarget>
}

const seqline =
  (sqlitePragmas?: string, nodeOptions?: readonly string[]) =>
  (rate: number): Promise<FanoutTarget> =>
    seqlineTarget({
      cli: values.cli,
      subscribers: SUBSCRIBERS,
      rate,
      ...(sqlitePragmas === undefined ? {} : { sqlitePragmas }),
      ...(nodeOptions === undefined ? {} : { nodeOptions }),
    })

const VARIANTS: readonly Variant[] = [
  { name: 'raw', description: 'raw ws broadcast (baseline)', start: () => rawWsTarget() },
  {
    name: 'seqline',
    description: 'Seqline as shipped (WAL fdatasync off the event loop)',
    start: seqline(),
  },
  {
    name: 'no-checkpoint',
    description: 'Seqline, WAL auto-checkpoint off',
    start: seqline('wal_autocheckpoint=0'),
  },
  {
    name: 'big-young-gen',
    description: 'Seqline, --max-semi-space-size=64 (fewer young GCs)',
    start: seqline(undefined, ['--max-semi-space-size=64']),
  },
]

// ---------------------------------------------------------------------------------------------
// Attribution

const Category = {
  commit: 'commit',
  checkpoint: 'checkpoint',
  sync: 'WAL sync',
  serverGc: 'server GC',
  generatorGc: 'generator GC',
} as const
type Category = (typeof Category)[keyof typeof Category]

interface Attribution {
  readonly deliveries: number
  readonly latencyMs: number
  /** Per category: share of the deliveries whose flight overlaps one such event. */
  readonly touched: Record<Category, number>
  /** Per category: mean share of the latency spent inside such events. */
  readonly share: Record<Category, number>
}

function categoryOf(event: ProbeEvent, generator: boolean): Category {
  if (generator) return Category.generatorGc
  switch (event.kind) {
    case 'gc':
      return Category.serverGc
    case 'checkpoint':
      return Category.checkpoint
    case 'sync':
      return Category.sync
    case 'commit':
      return Category.commit
  }
}

/**
 * For deliveries whose latency lies in [fromPercentile, toPercentile], how much of their flight
 * (send → receive) overlapped each kind of blocking event.
 */
function attribute(
  deliveries: readonly Delivery[],
  serverEvents: readonly ProbeEvent[],
  generatorGc: readonly ProbeEvent[],
  fromPercentile: number,
  toPercentile: number,
): Attribution {
  const sorted = [...deliveries].sort((a, b) => a.latencyMs - b.latencyMs)
  const pick = sorted.slice(
    Math.floor((fromPercentile / 100) * sorted.length),
    Math.ceil((toPercentile / 100) * sorted.length),
  )
  const events = [
    ...serverEvents.map((e) => ({ ...e, category: categoryOf(e, false) })),
    ...generatorGc.map((e) => ({ ...e, category: categoryOf(e, true) })),
  ].sort((a, b) => a.startMs - b.startMs)
  const starts = events.map((e) => e.startMs)
  const longest = Math.max(0, ...events.map((e) => e.durationMs))
  const categories = Object.values(Category)
  const touched = Object.fromEntries(categories.map((c) => [c, 0])) as Record<Category, number>
  const share = Object.fromEntries(categories.map((c) => [c, 0])) as Record<Category, number>
  for (const d of pick) {
    const from = d.sentMs
    const to = d.sentMs + d.latencyMs
    // First event that could overlap: started at most `longest` ms before the send.
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid]! < from - longest) lo = mid + 1
      else hi = mid
    }
    const inside = Object.fromEntries(categories.map((c) => [c, 0])) as Record<Category, number>
    for (let i = lo; i < events.length && events[i]!.startMs < to; i++) {
      const e = events[i]!
      const overlap = Math.min(to, e.startMs + e.durationMs) - Math.max(from, e.startMs)
      if (overlap > 0) inside[e.category] += overlap
    }
    for (const c of categories) {
      if (inside[c] > 0) touched[c] += 1
      share[c] += Math.min(1, inside[c] / d.latencyMs)
    }
  }
  for (const c of categories) {
    touched[c] /= Math.max(1, pick.length)
    share[c] /= Math.max(1, pick.length)
  }
  return {
    deliveries: pick.length,
    latencyMs: median(pick.map((d) => d.latencyMs)),
    touched,
    share,
  }
}

// ---------------------------------------------------------------------------------------------
// Group commit batches (the server's /metrics) and system calls (perf)

interface Batches {
  readonly commits: number
  readonly meanBatch: number
  /** Commits of exactly one publish. */
  readonly singles: number
}

async function batchesOf(port: number): Promise<Batches | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const value = (name: string): number =>
      Number(new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN)
    const bucket1 = Number(
      /^seqline_commit_batch_size_bucket\{le="1"\} ([0-9.e+]+)$/m.exec(text)?.[1] ?? NaN,
    )
    const commits = value('seqline_commit_batch_size_count')
    return {
      commits,
      meanBatch: value('seqline_commit_batch_size_sum') / commits,
      singles: bucket1,
    }
  } catch {
    return undefined
  }
}

const perfAvailable =
  values.perf && spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0

interface Syscalls {
  readonly perSecond: Record<string, number>
  readonly syncMs: {
    readonly count: number
    readonly p50: number
    readonly p99: number
    readonly max: number
  }
}

/** Attaches `perf stat` (counts) and `perf trace` (fsync durations) to a pid until stopped. */
function attachPerf(pid: number): { stop(): Promise<Syscalls> } {
  const events = ['write', 'writev', 'sendmsg', 'pwrite64', 'fdatasync', 'fsync']
  const started = Date.now()
  const stat = spawn(
    'perf',
    [
      'stat',
      '-x',
      ',',
      '-p',
      String(pid),
      ...events.flatMap((e) => ['-e', `syscalls:sys_enter_${e}`]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const trace = spawn('perf', ['trace', '-p', String(pid), '-e', 'fdatasync,fsync'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const collect = (child: ChildProcess): Promise<string> =>
    new Promise((resolve) => {
      let text = ''
      child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()))
      child.once('exit', () => resolve(text))
    })
  const statText = collect(stat)
  const traceText = collect(trace)
  return {
    async stop() {
      const seconds = (Date.now() - started) / 1000
      stat.kill('SIGINT')
      trace.kill('SIGINT')
      const perSecond: Record<string, number> = {}
      for (const line of (await statText).split('\n')) {
        const [count, , name] = line.split(',')
        const match = /sys_enter_(\w+)/.exec(name ?? '')
        if (match !== null) perSecond[match[1]!] = Number(count) / seconds
      }
      const durations = [...(await traceText).matchAll(/\(\s*([0-9.]+) ms\): \S+ f(?:data)?sync/g)]
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b)
      const at = (p: number): number =>
        durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] ?? NaN
      return {
        perSecond,
        syncMs: {
          count: durations.length,
          p50: at(0.5),
          p99: at(0.99),
          max: durations.at(-1) ?? NaN,
        },
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------

interface Run {
  readonly variant: string
  readonly round: number
  readonly result: Omit<FanoutResult, 'deliveries' | 'serverEvents'>
  readonly batches?: Batches
  readonly tail?: Attribution
  readonly middle?: Attribution
  readonly syscalls?: Syscalls
}

async function runVariant(
  variant: Variant,
  round: number,
  options: FanoutOptions,
  perf: boolean,
): Promise<Run> {
  const target = await variant.start(options.rate)
  let perfRun: { stop(): Promise<Syscalls> } | undefined
  let syscalls: Promise<Syscalls> | undefined
  try {
    const result = await measureFanout(target, {
      ...options,
      keepDeliveries: true,
      ...(perf
        ? {
            onWindow: (phase: 'start' | 'end') => {
              if (phase === 'start') perfRun = attachPerf(target.server.pid)
              else syscalls = perfRun?.stop()
            },
          }
        : {}),
    })
    const batches = variant.name === 'raw' ? undefined : await batchesOf(target.server.port)
    const { deliveries = [], serverEvents = [], ...summary } = result
    return {
      variant: variant.name,
      round,
      result: summary,
      ...(batches === undefined ? {} : { batches }),
      tail: attribute(deliveries, serverEvents, result.generatorGc, 99, 100),
      middle: attribute(deliveries, serverEvents, result.generatorGc, 45, 55),
      ...(syscalls === undefined ? {} : { syscalls: await syscalls }),
    }
  } finally {
    await target.stop()
  }
}

const m = machine()
const base = {
  subscribers: SUBSCRIBERS,
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  bytes: Number(values.bytes),
}
let rate = Number(values.rate)
if (values.rate === 'auto') {
  const saturation = await saturationRate(
    () => rawWsTarget(),
    { ...base, seconds: 4, warmupSeconds: 1 },
    (line) => console.log(line),
  )
  rate = Math.round(saturation.rate / 2)
  console.log(`raw ws saturation ${saturation.rate} msg/s → measuring at ${rate} msg/s`)
}
const options: FanoutOptions = { ...base, rate }
const chosen = VARIANTS.filter(
  (v) => values.variants === undefined || values.variants.split(',').includes(v.name),
)
const runs: Run[] = []
const rounds = Number(values.rounds)
for (let round = 0; round < rounds; round++) {
  // Rotate the order so that no variant always runs first (or right after the same neighbour).
  const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]!)
  for (const variant of order) {
    const run = await runVariant(variant, round, options, false)
    runs.push(run)
    console.log(
      `round ${round + 1} ${variant.name}: p50 ${run.result.p50.toFixed(2)} ms, p99 ${run.result.p99.toFixed(2)} ms, ` +
        `delivered ${run.result.delivered}/${run.result.sent * SUBSCRIBERS}, server ELD p99 ${run.result.server.eventLoopDelay.p99.toFixed(1)} ms`,
    )
  }
}
let perfRun: Run | undefined
if (perfAvailable) {
  const shipped = VARIANTS.find((v) => v.name === 'seqline')!
  perfRun = await runVariant(shipped, rounds, options, true)
}
m.loadAfter = loadavg()[0]

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n: number | undefined, digits = 2): string =>
  n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits)
const pct = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? '–' : `${(100 * n).toFixed(0)} %`
const med = (variant: string, value: (r: Run) => number | undefined): number =>
  median(
    runs
      .filter((r) => r.variant === variant)
      .flatMap((r) => (value(r) === undefined ? [] : [value(r)!])),
  )

const lines: string[] = [
  `bench/fanout/tail — ${SUBSCRIBERS} subscribers, ${rate} msg/s, ${base.seconds} s measured, ${rounds} rounds (medians); ${machineLine(m)}`,
  '',
  '| variant | p50 ms | p99 ms | p99.9 ms | p99 / raw p99 | server ELD p99 ms | server loop busy | loop time in commits | commits/s | mean batch | commit p50 / p99 ms | checkpoints/s | checkpoint p50 / max ms | WAL sync p50 / p99 / max ms | server GC ms/s, max ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
]
const rawP99 = med('raw', (r) => r.result.p99)
for (const v of chosen) {
  const at = (value: (r: Run) => number | undefined, digits = 2): string =>
    fmt(med(v.name, value), digits)
  const window = (r: Run): number => (r.result.server.untilMs - r.result.server.sinceMs) / 1000
  const commits = (r: Run): ProbeStats['commits'] => r.result.server.commits
  const cells = [
    v.description,
    at((r) => r.result.p50),
    at((r) => r.result.p99),
    at((r) => r.result.p999),
    `${fmt(med(v.name, (r) => r.result.p99) / rawP99)}×`,
    at((r) => r.result.server.eventLoopDelay.p99, 1),
    pct(med(v.name, (r) => r.result.server.eventLoopUtilization)),
    ...(v.name === 'raw'
      ? ['–', '–', '–', '–', '–', '–', '–']
      : [
          pct(med(v.name, (r) => commits(r).total / 1000 / window(r))),
          at((r) => commits(r).count / window(r), 0),
          at((r) => r.batches?.meanBatch),
          `${at((r) => commits(r).withoutCheckpoint.p50)} / ${at((r) => commits(r).withoutCheckpoint.p99)}`,
          at((r) => commits(r).checkpoints.count / window(r)),
          `${at((r) => commits(r).checkpoints.p50)} / ${at((r) => commits(r).checkpoints.max)}`,
          `${at((r) => r.result.server.syncs.p50)} / ${at((r) => r.result.server.syncs.p99)} / ${at((r) => r.result.server.syncs.max)}`,
        ]),
    `${at((r) => r.result.server.gc.total / window(r), 1)}, ${at((r) => r.result.server.gc.max, 1)}`,
  ]
  lines.push(`| ${cells.join(' | ')} |`)
}
lines.push(
  '',
  'Attribution (median over rounds): the share of each delivery’s latency spent inside each kind of event (blocking ones of the server’s loop; WAL syncs run on the thread pool while the loop goes on, and may overlap the others), for the deliveries at or above p99 (“tail”) and between p45 and p55 (“middle”); “touched”: deliveries whose flight overlapped at least one such event.',
  '',
  '| run | deliveries | latency ms | commit (WAL write, on the loop) | checkpoint | WAL sync (thread pool) | server GC | generator GC | not explained |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
)
for (const v of chosen.filter((c) => ['raw', 'seqline'].includes(c.name))) {
  for (const part of ['tail', 'middle'] as const) {
    const share = (c: Category): number => med(v.name, (r) => r[part]?.share[c])
    const touched = (c: Category): number => med(v.name, (r) => r[part]?.touched[c])
    const explained = Object.values(Category).reduce((n, c) => n + share(c), 0)
    lines.push(
      `| ${v.name} ${part} | ${fmt(
        med(v.name, (r) => r[part]?.deliveries),
        0,
      )} | ${fmt(med(v.name, (r) => r[part]?.latencyMs))} | ` +
        Object.values(Category)
          .map((c) => `${pct(share(c))} (touched ${pct(touched(c))})`)
          .join(' | ') +
        ` | ${pct(1 - explained)} |`,
    )
  }
}
if (perfRun?.syscalls !== undefined) {
  const s = perfRun.syscalls
  const perMessage = (name: string): string => fmt((s.perSecond[name] ?? 0) / rate, 2)
  lines.push(
    '',
    `System calls of the Seqline server during one more run (perf stat / perf trace), per second and per published message: ` +
      Object.entries(s.perSecond)
        .map(([k, v]) => `${k} ${fmt(v, 0)}/s (${perMessage(k)}/msg)`)
        .join(', ') +
      `; fdatasync/fsync duration p50 ${fmt(s.syncMs.p50, 3)} ms, p99 ${fmt(s.syncMs.p99, 3)} ms, max ${fmt(s.syncMs.max, 3)} ms over ${s.syncMs.count} calls.`,
  )
}
const report = lines.join('\n')
mkdirSync(values.out, { recursive: true })
writeFileSync(
  join(values.out, 'tail.json'),
  `${JSON.stringify({ machine: m, options, runs, perfRun }, null, 2)}\n`,
)
writeFileSync(join(values.out, 'tail.md'), `${report}\n`)
console.log(`\n${report}\n\nwritten: ${join(values.out, 'tail.{json,md}')}`)
process.exit(0)
