// Compares two V8 heap snapshots (.heapsnapshot, as written by the server probe, e.g.
// `bench/connections/fill.ts --heap-snapshot <dir>`): what the heap gained between them, grouped by
// kind and constructor, most bytes first, and per unit of `--per` (the connections added).
//
//   npx tsx bench/support/heap-top.ts <before.heapsnapshot> <after.heapsnapshot> [--per 5000] [--top 40]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface HeapSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[]
      readonly node_types: readonly [readonly string[], ...unknown[]]
    }
  }
  readonly nodes: readonly number[]
  readonly strings: readonly string[]
}

/** Objects of one kind and name: how many and their own (shallow) bytes. */
export interface HeapGroup {
  readonly key: string
  readonly count: number
  readonly bytes: number
}

/** Groups every node of a snapshot by `kind name` (strings, code and arrays by kind alone). */
export function heapGroups(snapshot: HeapSnapshot): Map<string, HeapGroup> {
  const fields = snapshot.snapshot.meta.node_fields
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const types = snapshot.snapshot.meta.node_types[0]
  const groups = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!] ?? '?'
    const named = type === 'object' || type === 'closure' || type === 'native'
    const key = named ? `${type} ${snapshot.strings[snapshot.nodes[i + nameAt]!]}` : type
    const group = groups.get(key) ?? { count: 0, bytes: 0 }
    group.count += 1
    group.bytes += snapshot.nodes[i + sizeAt]!
    groups.set(key, group)
  }
  return new Map([...groups].map(([key, g]) => [key, { key, ...g }]))
}

/** What `after` holds more than `before`, most bytes first. */
export function heapGrowth(
  before: Map<string, HeapGroup>,
  after: Map<string, HeapGroup>,
): HeapGroup[] {
  return [...after.values()]
    .map((g) => {
      const b = before.get(g.key)
      return { key: g.key, count: g.count - (b?.count ?? 0), bytes: g.bytes - (b?.bytes ?? 0) }
    })
    .filter((g) => g.bytes !== 0)
    .sort((a, b) => b.bytes - a.bytes)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: 'string', default: '1' }, top: { type: 'string', default: '40' } },
  })
  const [beforePath, afterPath] = positionals
  if (beforePath === undefined || afterPath === undefined) {
    console.error('usage: heap-top.ts <before.heapsnapshot> <after.heapsnapshot> [--per N]')
    process.exit(2)
  }
  const load = (path: string): Map<string, HeapGroup> =>
    heapGroups(JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot)
  const growth = heapGrowth(load(beforePath), load(afterPath))
  const per = Number(values.per)
  const total = growth.reduce((n, g) => n + g.bytes, 0)
  console.log(`heap grew by ${(total / 1e6).toFixed(2)} MB; ${(total / per).toFixed(0)} B per unit`)
  console.log('| bytes per unit | objects per unit | kind and constructor |')
  console.log('| ---: | ---: | --- |')
  for (const g of growth.slice(0, Number(values.top))) {
    console.log(`| ${(g.bytes / per).toFixed(0)} | ${(g.count / per).toFixed(2)} | ${g.key} |`)
  }
}
