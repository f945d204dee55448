import type { ChaosScenario } from './chaos-run.js'

/** `short`: a few seconds per scenario, in `npm test`. `long`: a minute each, on demand. */
export type ChaosProfile = 'short' | 'long'

/**
 * The chaos scenarios of the reliability issue, scaled by profile. Every scenario has drops on top
 * of its own fault, because real faults never come alone.
 */
export function chaosScenarios(profile: ChaosProfile): ChaosScenario[] {
  const long = profile === 'long'
  const base = {
    subscribers: long ? 8 : 3,
    publishers: long ? 3 : 2,
    durationMs: long ? 60_000 : 5_000,
    publishEveryMs: long ? 20 : 40,
    faultGapMs: [150, 600] as const,
  }
  return [
    {
      ...base,
      name: 'drops',
      summary: 'connections reset (RST both halves) every 150–600 ms, one client or all',
      faults: { reset: 1 },
    },
    {
      ...base,
      name: 'blackholes',
      summary:
        'drops + blackholes (bytes swallowed, no FIN/RST, reset 2–5 heartbeats later) + slow links',
      faults: { reset: 2, blackhole: 2, latency: 1 },
    },
    {
      ...base,
      name: 'half-open',
      summary: 'drops + half-open links (client half dies, server half swallows writes)',
      faults: { reset: 1, 'half-open': 2 },
    },
    {
      ...base,
      name: 'server-kill',
      summary: 'drops + kill -9 of the server at random points, restarted on the same port',
      faults: { reset: 1 },
      faultGapMs: [300, 1_200],
      serverKills: long ? 12 : 3,
    },
    {
      ...base,
      name: 'slow-consumer',
      summary: 'one subscriber stops reading for 10 s (TCP backpressure to the server) + drops',
      durationMs: long ? 60_000 : 12_500,
      faults: { reset: 1 },
      faultGapMs: [500, 1_500],
      slowConsumer: { stallMs: 10_000 },
    },
    {
      ...base,
      name: 'offline',
      summary: 'subscribers offline for 2.5 s (5 heartbeats) while publishers go on + drops',
      durationMs: long ? 60_000 : 7_000,
      faults: { reset: 1 },
      faultGapMs: [400, 1_200],
      offline: { times: long ? 20 : 3, ms: 2_500 },
    },
    {
      ...base,
      name: 'reload',
      summary: 'page reloads (client object dropped, a new one on the same storage) + drops',
      faults: { reset: 1 },
      faultGapMs: [300, 1_000],
      reloads: long ? 30 : 4,
    },
    {
      ...base,
      name: 'duplicate-tab',
      summary: 'duplicated tabs (copied sessionStorage, shared IndexedDB) + drops',
      faults: { reset: 1 },
      faultGapMs: [300, 1_000],
      duplicateTabs: long ? 6 : 2,
    },
    {
      ...base,
      name: 'retention',
      summary:
        'retention keeps 20 messages; subscribers offline fall below the tail → reset + snapshot',
      durationMs: long ? 60_000 : 7_000,
      faults: { reset: 1 },
      faultGapMs: [400, 1_200],
      offline: { times: long ? 20 : 3, ms: 2_500 },
      retention: { kind: 'max-count', maxCount: 20, intervalMs: 200 },
    },
    {
      ...base,
      name: 'retention-until-acked',
      summary:
        'until-acked retention, age cap 5 min; subscribers offline come back to all they missed: no reset',
      durationMs: long ? 60_000 : 7_000,
      faults: { reset: 1 },
      faultGapMs: [400, 1_200],
      offline: { times: long ? 20 : 3, ms: 2_500 },
      // The cap is far above any offline spell (and the run): it is never what trims.
      retention: { kind: 'until-acked', maxAgeMs: 300_000, intervalMs: 200 },
      resets: 'none',
    },
  ]
}
