// bench/fanout — one publisher, N subscribers, small messages at a fixed rate: sustained fan-out
// (deliveries/s) and end-to-end latency of Seqline (durable: SQLite commit before fan-out) against
// a raw `ws` broadcast server (no storage at all), both measured in the same run.
//
//   npx tsx bench/fanout/run.ts [--subscribers 100] [--rate 2000|auto] [--seconds 10] [--bytes 100]
//                               [--only seqline|raw] [--cli <seqline cli.js>] [--json <file>]
//                               [--cpu-prof <dir>]
//
// --rate auto first finds raw ws's saturation rate (bench/fanout/saturation.ts: the highest rate it
// sustains — ≥ 99 % delivered, latency level through the window, p99 ≤ 50 ms — doubling from 250,
// then bisecting to 10 %; 4 s trials on fresh servers), then runs both servers at half of it.
//
// Servers run as child processes; the publisher and the subscribers run here. Loopback only.
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { machine, machineLine } from '../support/machine.js'
import {
  DEFAULT_CLI,
  type FanoutOptions,
  type FanoutResult,
  rawWsTarget,
  runFanout,
  seqlineTarget,
} from './fanout-load.js'
import { type SaturationTrial, saturationRate } from './saturation.js'

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    bytes: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2' },
    'saturation-seconds': { type: 'string', default: '4' },
    only: { type: 'string' },
    cli: { type: 'string', default: DEFAULT_CLI },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
})
const SUBSCRIBERS = Number(values.subscribers)
const profile =
  values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`]
const m = machine()
const base = {
  subscribers: SUBSCRIBERS,
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  bytes: Number(values.bytes),
}

let rate = Number(values.rate)
let saturation: { readonly rate: number; readonly trials: readonly SaturationTrial[] } | undefined
if (values.rate === 'auto') {
  console.log(`raw ws saturation rate with ${SUBSCRIBERS} subscribers:`)
  saturation = await saturationRate(
    () => rawWsTarget(),
    { ...base, seconds: Number(values['saturation-seconds']), warmupSeconds: 1 },
    (line) => console.log(line),
  )
  rate = Math.round(saturation.rate / 2)
  console.log(`saturation ${saturation.rate} msg/s → running both at ${rate} msg/s\n`)
}
const options: FanoutOptions = { ...base, rate }

const results: FanoutResult[] = []
if (values.only === undefined || values.only === 'raw') {
  results.push(await runFanout(() => rawWsTarget({ nodeOptions: profile }), options))
}
if (values.only === undefined || values.only === 'seqline') {
  results.push(
    await runFanout(
      () =>
        seqlineTarget({ cli: values.cli, subscribers: SUBSCRIBERS, rate, nodeOptions: profile }),
      options,
    ),
  )
}
m.loadAfter = (await import('node:os')).loadavg()[0]

const fmt = (n: number, digits = 1): string => n.toFixed(digits)
console.log(
  `\nfan-out: ${SUBSCRIBERS} subscribers, ${rate} msg/s offered, ~${base.bytes}-byte messages, ${base.seconds}s measured; ${machineLine(m)}\n`,
)
console.log(
  '| server | deliveries/s | p50 ms | p99 ms | p99.9 ms | not delivered in window | server CPU (cores) | server µs CPU / delivery | server event-loop delay p99 ms |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.name} | ${fmt(r.deliveriesPerSec, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${r.lost} | ${fmt(r.serverCpu, 2)} | ${fmt((r.serverCpu / r.deliveriesPerSec) * 1e6, 2)} | ${r.server.eventLoopDelay.count === 0 ? `> ${fmt(base.seconds, 0)} s (one iteration)` : fmt(r.server.eventLoopDelay.p99, 2)} |`,
  )
}
const raw = results.find((r) => r.name.startsWith('raw'))
const durable = results.find((r) => r.name.startsWith('seqline'))
if (raw !== undefined && durable !== undefined) {
  console.log(
    `\nratio seqline/raw: deliveries ${fmt(durable.deliveriesPerSec / raw.deliveriesPerSec, 2)}×, p50 ${fmt(durable.p50 / raw.p50, 2)}×, p99 ${fmt(durable.p99 / raw.p99, 2)}×`,
  )
}
if (values.json !== undefined) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ machine: m, options, saturation: saturation === undefined ? undefined : { rate: saturation.rate, trials: saturation.trials.map(({ rate, sustained, reason, result }) => ({ rate, sustained, reason, p50: result.p50, p99: result.p99, deliveriesPerSec: result.deliveriesPerSec })) }, results }, null, 2)}\n`,
  )
}
process.exit(0)
