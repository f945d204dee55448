import { readFileSync } from 'node:fs'

/**
 * Resident set size of process `pid` in bytes, from `/proc/<pid>/status` (Linux). Undefined when
 * the process is gone or /proc is not available.
 */
export function residentBytes(pid: number): number | undefined {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]
  return kb === undefined ? undefined : Number(kb) * 1024
}

/** Samples the RSS of `pid` every `intervalMs` until `stop()`, which returns the samples. */
export function sampleResidentBytes(
  pid: number,
  intervalMs = 50,
): { stop(): number[]; readonly samples: readonly number[] } {
  const samples: number[] = []
  const take = (): void => {
    const bytes = residentBytes(pid)
    if (bytes !== undefined) samples.push(bytes)
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    samples,
    stop() {
      clearInterval(timer)
      take()
      return samples
    },
  }
}
