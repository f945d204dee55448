// Summarises a V8 CPU profile (.cpuprofile, as written by the server probe or `node --cpu-prof`):
// the functions with the most self time and the most total (inclusive) time.
//
//   npx tsx bench/support/profile-top.ts <file.cpuprofile> [--top 25] [--match packages/server]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** Self and total milliseconds per function (`name url:line`). */
export interface FunctionTime {
  readonly name: string
  readonly selfMs: number
  readonly totalMs: number
}

/** Self and total time of every function of `profile`, most self time first. */
export function functionTimes(profile: CpuProfile): {
  readonly totalMs: number
  readonly functions: FunctionTime[]
} {
  const selfByNode = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const keyOf = (n: ProfileNode): string => {
    const file = n.callFrame.url
      .replace(/^file:\/\//, '')
      .replace(/^.*\/(packages|node_modules)\//, '$1/')
    return `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  // Total time: a function counts once per sample even when it recurses.
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!
    const key = keyOf(node)
    let sum = selfByNode.get(id) ?? 0
    self.set(key, (self.get(key) ?? 0) + sum)
    const fresh = !onStack.has(key)
    if (fresh) onStack.add(key)
    for (const child of node.children ?? []) sum += walk(child, onStack)
    if (fresh) {
      onStack.delete(key)
      total.set(key, (total.get(key) ?? 0) + sum)
    }
    return sum
  }
  const root = profile.nodes[0]!
  const totalMs = walk(root.id, new Set())
  return {
    totalMs,
    functions: [...self.keys()]
      .map((name) => ({ name, selfMs: self.get(name) ?? 0, totalMs: total.get(name) ?? 0 }))
      .sort((a, b) => b.selfMs - a.selfMs),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, match: { type: 'string' } },
  })
  const file = positionals[0]
  if (file === undefined) {
    console.error('usage: npx tsx bench/support/profile-top.ts <file.cpuprofile> [--top 25]')
    process.exit(2)
  }
  const { totalMs, functions } = functionTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)
  const top = Number(values.top)
  const pct = (ms: number): string => `${((100 * ms) / totalMs).toFixed(1)} %`
  const busy = functions.filter((f) => !f.name.startsWith('(idle)'))
  const busyMs = busy.reduce((n, f) => n + f.selfMs, 0)
  console.log(
    `${file}: ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s not idle\n`,
  )
  console.log('self ms  self %   function')
  for (const f of busy.slice(0, top)) {
    console.log(`${f.selfMs.toFixed(0).padStart(7)}  ${pct(f.selfMs).padStart(6)}   ${f.name}`)
  }
  console.log('\ntotal ms total %  function (inclusive)')
  for (const f of [...functions]
    .filter((f) => values.match === undefined || f.name.includes(values.match))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top)) {
    console.log(`${f.totalMs.toFixed(0).padStart(7)}  ${pct(f.totalMs).padStart(6)}   ${f.name}`)
  }
}
