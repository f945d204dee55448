import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** The open-files limit of this process (`ulimit -n`), from /proc/self/limits. */
export function openFilesLimit(): { readonly soft: number; readonly hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((v) =>
    v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v),
  )
  return { soft: soft ?? 1024, hard: hard ?? 1024 }
}

/**
 * How a child process that needs `wanted` descriptors can be started: through `prlimit` with a
 * raised limit when this process's soft limit is too low and raising works (up to the hard limit
 * without privileges, beyond it with CAP_SYS_RESOURCE), else as is with the limit it inherits.
 */
export interface FdPlan {
  /** Command prefix for the child (empty: none needed or possible). */
  readonly wrapper: readonly string[]
  /** Descriptors the child will have. */
  readonly limit: number
  /** What was done, for the report. */
  readonly note: string
}

export function planOpenFiles(wanted: number): FdPlan {
  const { soft, hard } = openFilesLimit()
  if (wanted <= soft) return { wrapper: [], limit: soft, note: `ulimit -n ${soft} is enough` }
  const attempt = (n: number): boolean =>
    spawnSync('prlimit', [`--nofile=${n}:${n}`, '--', 'true'], { stdio: 'ignore' }).status === 0
  if (attempt(wanted)) {
    return {
      wrapper: ['prlimit', `--nofile=${wanted}:${wanted}`, '--'],
      limit: wanted,
      note: `raised the open-files limit of the child processes to ${wanted} with prlimit`,
    }
  }
  if (hard > soft && attempt(hard)) {
    return {
      wrapper: ['prlimit', `--nofile=${hard}:${hard}`, '--'],
      limit: hard,
      note: `raised the soft open-files limit to the hard limit ${hard} (raising beyond it was refused)`,
    }
  }
  return {
    wrapper: [],
    limit: soft,
    note: `open-files limit ${soft} (hard ${hard}); raising it was refused (needs CAP_SYS_RESOURCE)`,
  }
}
