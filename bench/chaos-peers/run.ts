import { parseArgs } from 'node:util'
import { type ChaosResult, runChaos, supports } from '../../test/chaos/harness/chaos-run.js'
import type { ChaosSystem } from '../../test/chaos/harness/chaos-system.js'
import { chaosScenarios } from '../../test/chaos/harness/scenarios.js'
import { markdownTable } from '../../test/chaos/harness/score-table.js'
import { seqlineSystem } from '../../test/chaos/harness/seqline-system.js'
import { rawWsSystem } from './raw-ws-system.js'
import { socketIoSystem } from './socketio-system.js'

// The peer comparison (docs/reliability.md): the chaos harness, its faults and its scoring, with
// Seqline, Socket.IO 4.8 (plain and with connectionStateRecovery) and a raw `ws` broadcast in
// turn. Build first (`npm run build`), then:
//
//   npx tsx bench/chaos-peers/run.ts                   # short profile, seeds 1 2 3
//   npx tsx bench/chaos-peers/run.ts --seeds 4,5,6 --scenario half-open

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    scenario: { type: 'string', multiple: true },
    system: { type: 'string', multiple: true },
  },
})
const seeds = values.seeds.split(',').map(Number)
const systems: ChaosSystem[] = [
  seqlineSystem,
  socketIoSystem(false),
  socketIoSystem(true),
  rawWsSystem,
].filter((s) => values.system === undefined || values.system.includes(s.name))
const names = values.scenario ?? ['drops', 'blackholes', 'half-open', 'server-kill', 'offline']
const scenarios = chaosScenarios('short').filter((s) => names.includes(s.name))

const rows: string[][] = []
for (const scenario of scenarios) {
  for (const system of systems) {
    if (!supports(system, scenario)) continue
    // Seeds side by side: each run has its own server process and ports.
    const results = await Promise.all(
      seeds.map((seed) => runChaos({ system, scenario, seed, quietMs: 3_000 })),
    )
    const row = summarise(scenario.name, system.name, results)
    rows.push(row)
    process.stdout.write(`${row.join(' | ')}\n`)
  }
}

const header = [
  'scenario',
  'system',
  'acked',
  'expected deliveries',
  'lost',
  'lost %',
  'duplicated',
  'out of order',
  'clients with loss',
]
process.stdout.write(`\n## Chaos, peers side by side (seeds ${seeds.join(', ')})\n\n`)
process.stdout.write(`${markdownTable(header, rows)}\n`)

function summarise(scenario: string, system: string, results: readonly ChaosResult[]): string[] {
  const scores = results.flatMap((r) => r.scores)
  const sum = (key: 'expected' | 'lost' | 'duplicated' | 'outOfOrder') =>
    scores.reduce((total, s) => total + s[key], 0)
  const expected = sum('expected')
  const lost = sum('lost')
  return [
    scenario,
    system,
    String(results.reduce((total, r) => total + r.acked, 0)),
    String(expected),
    String(lost),
    expected === 0 ? '–' : `${((100 * lost) / expected).toFixed(2)} %`,
    String(sum('duplicated')),
    String(sum('outOfOrder')),
    `${scores.filter((s) => s.lost > 0).length} / ${scores.length}`,
  ]
}
