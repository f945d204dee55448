import { parseArgs } from 'node:util'
import { type ChaosResult, runChaos } from './harness/chaos-run.js'
import { type ChaosProfile, chaosScenarios } from './harness/scenarios.js'
import { markdownTable, resultHeader, resultRow } from './harness/score-table.js'
import { seqlineSystem } from './harness/seqline-system.js'
import { verdict } from './harness/verdict.js'

// The long chaos profile, on demand (docs/reliability.md):
//
//   npm run chaos -- --minutes 10 --seed 7
//   npm run chaos -- --profile short --scenario half-open --seed 2   (replay one short-profile run)
//
// Runs the scenarios round-robin until the time is up (at least one round), one seed per round
// (seed, seed + 1, …), prints each run as it ends and the whole table at the end. Exits 1 if any
// run lost, duplicated or reordered a message for any client.

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'long' },
    scenario: { type: 'string', multiple: true },
    quiet: { type: 'boolean', default: false },
  },
})
const minutes = Number(values.minutes)
const firstSeed = Number(values.seed)
const profile = values.profile as ChaosProfile
if (
  !Number.isFinite(minutes) ||
  !Number.isInteger(firstSeed) ||
  !['short', 'long'].includes(profile)
) {
  process.stderr.write(
    'usage: long-run.ts [--minutes N] [--seed N] [--profile long|short] [--scenario name]…\n',
  )
  process.exit(2)
}
const wanted = values.scenario
const scenarios = chaosScenarios(profile).filter(
  (s) => wanted === undefined || wanted.includes(s.name),
)
if (scenarios.length === 0) {
  process.stderr.write(`no such scenario: ${wanted?.join(', ')}\n`)
  process.exit(2)
}

const deadline = Date.now() + minutes * 60_000
const results: ChaosResult[] = []
let failed = false
let round = 0
do {
  const seed = firstSeed + round
  for (const scenario of scenarios) {
    if (round > 0 && Date.now() >= deadline) break
    process.stdout.write(`\n▶ ${scenario.name} (seed ${seed}): ${scenario.summary}\n`)
    const result = await runChaos({
      system: seqlineSystem,
      scenario,
      seed,
      onEvent: (line) => {
        if (!values.quiet) process.stdout.write(`${line}\n`)
      },
    })
    results.push(result)
    const problems = verdict(result)
    failed ||= problems.length > 0
    process.stdout.write(`${markdownTable(resultHeader, [resultRow(result)])}\n`)
    for (const problem of problems) process.stdout.write(`  ✗ ${problem}\n`)
  }
  round += 1
} while (Date.now() < deadline)

process.stdout.write(`\n## Seqline chaos, profile ${profile}, ${results.length} runs\n\n`)
process.stdout.write(`${markdownTable(resultHeader, results.map(resultRow))}\n`)
process.stdout.write(
  failed ? '\nFAILED: see ✗ lines above\n' : '\nOK: 0 lost, 0 duplicated, 0 out of order\n',
)
process.exit(failed ? 1 : 0)
