// bench/compare — before/after: the same load generators (this checkout's bench/fanout and
// bench/http) against the Seqline servers of two checkouts, alternately, N rounds, then the ratios
// after / before. Each round runs both checkouts back to back (ABBA order: A B, then B A, …), and
// ratios are taken within a round, so that a machine that gets busier or quieter during the run
// moves both sides of a ratio together.
//
//   npx tsx bench/compare.ts --before <checkout> --after <checkout> [--rounds 6]
//       [--benches fanout,http] [--fanout-args="--rate 2000 --seconds 10"]
//       [--http-args="--appends 20000"] [--json <file>]
//
// A checkout is a directory with built packages (`npm run build`): its
// packages/server/dist/cli.js is what runs. Only Seqline runs (`--only seqline`); the peers are
// not needed to compare Seqline with itself.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from './support/distribution.js'
import { machine, machineLine } from './support/machine.js'

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    benches: { type: 'string', default: 'fanout,http' },
    'fanout-args': { type: 'string', default: '' },
    'http-args': { type: 'string', default: '' },
    json: { type: 'string' },
  },
})
if (values.before === undefined || values.after === undefined) {
  console.error(
    'usage: npx tsx bench/compare.ts --before <checkout> --after <checkout> [--rounds 6]',
  )
  process.exit(2)
}

/** One measured quantity of a bench and whether more is better. */
interface Metric {
  readonly bench: string
  readonly name: string
  readonly higherIsBetter: boolean
  read(json: unknown): number
}

interface FanoutJson {
  readonly results: readonly {
    readonly deliveriesPerSec: number
    readonly p50: number
    readonly p99: number
    readonly serverCpu: number
  }[]
}
interface HttpJson {
  readonly results: readonly {
    readonly appendsPerSec: number
    readonly coldReadMessagesPerSec: number
    readonly readMessagesPerSec: number
    readonly serverCpu: number
  }[]
}

const fanout = (json: unknown) => (json as FanoutJson).results[0]!
const http = (json: unknown) => (json as HttpJson).results[0]!

const METRICS: readonly Metric[] = [
  {
    bench: 'fanout',
    name: 'deliveries/s',
    higherIsBetter: true,
    read: (j) => fanout(j).deliveriesPerSec,
  },
  { bench: 'fanout', name: 'latency p50 (ms)', higherIsBetter: false, read: (j) => fanout(j).p50 },
  { bench: 'fanout', name: 'latency p99 (ms)', higherIsBetter: false, read: (j) => fanout(j).p99 },
  {
    bench: 'fanout',
    name: 'server µs CPU / delivery',
    higherIsBetter: false,
    read: (j) => (fanout(j).serverCpu / fanout(j).deliveriesPerSec) * 1e6,
  },
  { bench: 'http', name: 'appends/s', higherIsBetter: true, read: (j) => http(j).appendsPerSec },
  {
    bench: 'http',
    name: 'first read msgs/s',
    higherIsBetter: true,
    read: (j) => http(j).coldReadMessagesPerSec,
  },
  {
    bench: 'http',
    name: 'catch-up msgs/s',
    higherIsBetter: true,
    read: (j) => http(j).readMessagesPerSec,
  },
]

const SCRIPTS: Record<string, { readonly path: string; readonly args: string }> = {
  fanout: {
    path: fileURLToPath(new URL('./fanout/run.ts', import.meta.url)),
    args: values['fanout-args'],
  },
  http: {
    path: fileURLToPath(new URL('./http/run.ts', import.meta.url)),
    args: values['http-args'],
  },
}

interface Checkout {
  readonly label: 'before' | 'after'
  readonly dir: string
  readonly cli: string
  readonly revision: string
}

function checkout(label: 'before' | 'after', dir: string): Checkout {
  const root = resolve(dir)
  const cli = join(root, 'packages/server/dist/cli.js')
  if (!existsSync(cli)) {
    console.error(`${root}: no packages/server/dist/cli.js — run \`npm run build\` there first`)
    process.exit(2)
  }
  let revision = 'not a git checkout'
  try {
    revision = execFileSync('git', ['-C', root, 'log', '-1', '--format=%h %s'], {
      encoding: 'utf8',
    }).trim()
    const dirty = execFileSync(
      'git',
      ['-C', root, 'status', '--porcelain', '--untracked-files=no'],
      {
        encoding: 'utf8',
      },
    )
    if (dirty.trim() !== '') revision += ' (with uncommitted changes)'
  } catch {
    // A copy without .git: the directory is all we can name.
  }
  return { label, dir: root, cli, revision }
}

/** Runs one bench against one checkout's server; resolves with its JSON result. */
function runBench(bench: string, target: Checkout, scratch: string): Promise<unknown> {
  const script = SCRIPTS[bench]!
  const out = join(scratch, `${bench}-${target.label}-${Date.now()}.json`)
  const args = [
    '--import',
    'tsx',
    script.path,
    '--only',
    'seqline',
    '--cli',
    target.cli,
    '--json',
    out,
    ...script.args.split(' ').filter((a) => a !== ''),
  ]
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
    child.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`${bench} on ${target.dir} exited with ${code}`))
        return
      }
      resolvePromise(JSON.parse(readFileSync(out, 'utf8')))
    })
  })
}

const before = checkout('before', values.before)
const after = checkout('after', values.after)
const benches = values.benches.split(',')
const rounds = Number(values.rounds)
const m = machine()
const scratch = mkdtempSync(join(tmpdir(), 'seqline-compare-'))
/** samples[metric][round] = { before, after } */
const samples = new Map<Metric, { before: number; after: number }[]>()
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [before, after] : [after, before]
    for (const bench of benches) {
      const results = new Map<string, unknown>()
      for (const target of order) {
        process.stdout.write(`round ${round + 1}/${rounds}: ${bench} on ${target.label} …\n`)
        results.set(target.label, await runBench(bench, target, scratch))
      }
      for (const metric of METRICS.filter((x) => x.bench === bench)) {
        const list = samples.get(metric) ?? []
        list.push({
          before: metric.read(results.get('before')),
          after: metric.read(results.get('after')),
        })
        samples.set(metric, list)
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
m.loadAfter = loadavg()[0]

const fmt = (n: number, digits = 2): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–'
const lines = [
  `bench/compare — ${rounds} rounds, ${machineLine(m)}`,
  `before: ${before.dir} (${before.revision})`,
  `after:  ${after.dir} (${after.revision})`,
  '',
  '| bench | metric | before (median) | after (median) | after / before (median of rounds) | range over rounds | verdict |',
  '| --- | --- | ---: | ---: | ---: | ---: | --- |',
]
/**
 * `same` when the median round is within 5 %. Beyond that, `slower` / `faster` only when every
 * round points the same way, with the sign test's p (two-sided: 2 / 2^rounds, so 6 rounds are
 * needed for p < 0.05); otherwise the rounds disagree and the machine was too noisy to tell.
 */
function verdict(ratios: readonly number[], higherIsBetter: boolean): string {
  const gain = (r: number): number => (higherIsBetter ? r : 1 / r)
  const middle = gain(median(ratios))
  if (!Number.isFinite(middle)) return 'not measured'
  if (Math.abs(middle - 1) <= 0.05) return 'same (±5 %)'
  const p = 2 / 2 ** ratios.length
  const word = middle < 1 ? 'slower' : 'faster'
  if (ratios.every((r) => (middle < 1 ? gain(r) < 1 : gain(r) > 1))) {
    return p < 0.05
      ? `**${word}** (every round, p = ${p.toFixed(3)})`
      : `${word}? (every round, but p = ${p.toFixed(2)}: run more rounds)`
  }
  return 'inconclusive (rounds disagree)'
}

const summary: unknown[] = []
for (const [metric, list] of samples) {
  const ratios = list.map((s) => s.after / s.before)
  const ratio = median(ratios)
  lines.push(
    `| ${metric.bench} | ${metric.name} | ${fmt(median(list.map((s) => s.before)))} | ${fmt(median(list.map((s) => s.after)))} | **${fmt(ratio)}×** | ${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}× | ${verdict(ratios, metric.higherIsBetter)} |`,
  )
  summary.push({
    bench: metric.bench,
    metric: metric.name,
    higherIsBetter: metric.higherIsBetter,
    ratio,
    rounds: list,
  })
}
const report = lines.join('\n')
console.log(`\n${report}`)
if (values.json !== undefined) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ machine: m, before, after, rounds, summary }, null, 2)}\n`,
  )
}
