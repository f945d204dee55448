import { readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'

/** What a result was measured on, recorded with every result file. */
export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGb: number
  readonly node: string
  /** 1-minute load average when the run started and ended: above ~0.5 the machine was shared. */
  readonly loadBefore: number
  loadAfter?: number
}

export function machine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadBefore: loadavg()[0] ?? NaN,
  }
}

/** One line describing the machine, for tables and charts. */
export function machineLine(m: Machine): string {
  const load =
    m.loadAfter === undefined
      ? `load ${m.loadBefore.toFixed(1)}`
      : `load ${m.loadBefore.toFixed(1)} → ${m.loadAfter.toFixed(1)}`
  return `${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}, ${load}`
}

/** CPU seconds all processes of the machine have used so far (Linux /proc/stat; NaN elsewhere). */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1)
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number)
    return (
      ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100
    )
  } catch {
    return NaN
  }
}
