import type { ChaosResult } from './chaos-run.js'

/** Sums the per-client scores of one run into one table row. */
export function resultRow(result: ChaosResult): string[] {
  const sum = (
    key:
      | 'delivered'
      | 'lost'
      | 'duplicated'
      | 'outOfOrder'
      | 'viaSnapshot'
      | 'resets'
      | 'resetsRecovered',
  ) => result.scores.reduce((total, score) => total + score[key], 0)
  const resets = sum('resets')
  return [
    result.system,
    result.scenario,
    String(result.seed),
    String(result.scores.length),
    String(result.acked),
    String(sum('delivered')),
    String(sum('lost')),
    String(sum('duplicated')),
    String(sum('outOfOrder')),
    resets === 0
      ? '0'
      : `${resets} (${sum('resetsRecovered')} via snapshot, ${sum('viaSnapshot')} msgs)`,
    String(result.unacked),
    faultSummary(result),
  ]
}

export const resultHeader = [
  'system',
  'scenario',
  'seed',
  'clients',
  'acked',
  'delivered',
  'lost',
  'dup',
  'order',
  'resets',
  'unacked',
  'faults',
]

function faultSummary(result: ChaosResult): string {
  const f = result.faults
  const parts = [
    f.resets > 0 ? `${f.resets} rst` : '',
    f.blackholes > 0 ? `${f.blackholes} bh` : '',
    f.halfOpens > 0 ? `${f.halfOpens} half-open` : '',
    f.stalls > 0 ? `${f.stalls} stall` : '',
    f.offlines > 0 ? `${f.offlines} offline` : '',
    result.serverKills > 0 ? `${result.serverKills} kill -9` : '',
  ]
  return parts.filter((p) => p !== '').join(', ')
}

/** Formats rows as a Markdown table (readable in a terminal too). */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
  ].join('\n')
}
