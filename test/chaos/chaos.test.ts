import { describe, expect, it } from 'vitest'
import { runChaos } from './harness/chaos-run.js'
import { chaosScenarios } from './harness/scenarios.js'
import { markdownTable, resultHeader, resultRow } from './harness/score-table.js'
import { seqlineSystemOver } from './harness/seqline-system.js'
import { verdict } from './harness/verdict.js'

// The short chaos profile (docs/reliability.md): every scenario, three seeds run side by side, each
// against its own server process. A seed fixes the fault schedule; replay one with
// `npm run chaos -- --profile short --scenario <name> --seed <n>`. CHAOS_SEEDS=4,5,6 picks others.
const seeds = (process.env.CHAOS_SEEDS ?? '1,2,3').split(',').map(Number)

// Both doors: the WebSocket fast path, and the HTTP fallback that the SDK uses when WebSocket cannot
// get through (G5): its HTTP session (one SSE read for every stream, plus POSTs), through the same
// per-client fault proxy that resets, blackholes, half-opens and slows its connections at random.
for (const transport of ['websocket', 'http'] as const) {
  const system = seqlineSystemOver(transport)
  describe(`Seqline under chaos over ${transport} (short profile)`, () => {
    for (const scenario of chaosScenarios('short')) {
      it(`delivers every acknowledged message once and in order: ${scenario.name}`, async () => {
        const results = await Promise.all(seeds.map((seed) => runChaos({ system, scenario, seed })))
        const report = markdownTable(resultHeader, results.map(resultRow))
        console.info(`${scenario.name} over ${transport}\n${report}`)
        const problems = results.flatMap((r) => verdict(r).map((p) => `seed ${r.seed}: ${p}`))
        expect(problems, `${scenario.summary}\n${report}`).toEqual([])
        for (const r of results) {
          expect(r.acked, `seed ${r.seed}: nothing published`).toBeGreaterThan(50)
          // Until-acked under its age cap (retention-until-acked): not one reset, snapshot or not.
          if (scenario.resets === 'none') {
            const reset = r.scores.filter((s) => s.resets > 0).map((s) => s.client)
            expect(reset, `seed ${r.seed}: clients reset`).toEqual([])
          }
          // The run used the transport it is named after: the HTTP one never fell back to a
          // WebSocket (it may go on long-polling after an SSE read stayed silent, e.g. behind a
          // stalled link).
          for (const score of r.scores) {
            const used = `seed ${r.seed}, ${score.client}: transports ${score.transports.join(', ')}`
            if (transport === 'websocket') expect(score.transports, used).toEqual(['websocket'])
            else {
              expect(score.transports[0], used).toBe('sse')
              expect(score.transports, used).not.toContain('websocket')
            }
          }
        }
        // Generous: three seeds run side by side, and a kill -9 restarts a server process.
      }, 240_000)
    }
  })
}
