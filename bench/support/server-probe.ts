// A preload for benchmarked server processes (`node --import <compiled probe> <server script>`),
// so that what the benchmarks measure inside a server comes from outside its code:
//
// - event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution);
// - GC pauses (PerformanceObserver 'gc'), with their start time;
// - SQLite commits, when the process uses better-sqlite3: every COMMIT and every autocommit write
//   is timed, and a commit that ran a WAL checkpoint is recognised by the checkpoint counter
//   (`nBackfill`) of the WAL index (`<db>-shm`) moving during it. SEQLINE_PROBE_SQLITE_PRAGMAS
//   ("wal_autocheckpoint=0;synchronous=NORMAL") applies pragmas right after the server sets its
//   own — an experiment knob for attributing latency, never a configuration to run with;
// - every `fs.fdatasync`/`fs.fsync` made through the callback API (the server syncs its SQLite WAL
//   that way, on libuv's thread pool): from the call until its callback runs on the event loop,
//   i.e. how long the commits it covers wait to become durable. The loop is not blocked meanwhile;
// - memory (after a full GC when the process runs with --expose-gc).
//
// The parent asks over the IPC channel (`stdio: [..., 'ipc']`) and gets answers of type
// {@link ProbeReply}. All times are milliseconds of the monotonic clock (`process.hrtime`), which
// every process of the machine shares, so they line up with the load generator's clocks.
//
// Loaded by bench/support/probed-server.ts, which compiles this file to JavaScript with esbuild:
// the server process runs without any TypeScript loader.
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'

/** A request from the parent. */
export type ProbeRequest =
  | { readonly type: 'memory' }
  | { readonly type: 'stats' }
  | { readonly type: 'timeline' }
  | { readonly type: 'reset' }
  /** Starts V8's CPU profiler (the in-process inspector). */
  | { readonly type: 'profile-start' }
  /** Stops it and writes the profile (`.cpuprofile`, for Chrome DevTools or profile-top.ts). */
  | { readonly type: 'profile-stop'; readonly path: string }
  /** Writes a V8 heap snapshot (`.heapsnapshot`, for Chrome DevTools or heap-top.ts). */
  | { readonly type: 'heap-snapshot'; readonly path: string }

/** Resident and V8 memory of the server process. */
export interface ProbeMemory {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
  /** Whether a full GC ran first (the process had --expose-gc). */
  readonly collected: boolean
  /**
   * The resident set by kind (Linux, /proc/self/status): anonymous memory (heaps, malloc), pages
   * of mapped files (SQLite's memory-mapped database) and shared memory (SQLite's WAL index).
   */
  readonly rssKinds?: { readonly anon: number; readonly file: number; readonly shmem: number }
}

/** Percentiles in milliseconds. */
export interface ProbeDistribution {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Sum of all samples (ms): time spent. */
  readonly total: number
}

/** Summary since the last reset. */
export interface ProbeStats {
  readonly sinceMs: number
  readonly untilMs: number
  readonly eventLoopDelay: {
    /** Samples taken: 0 when one loop iteration outlasted the whole window. */
    readonly count: number
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly p999: number
    readonly max: number
    readonly mean: number
  }
  /** Event-loop utilisation (0–1) over the window. */
  readonly eventLoopUtilization: number
  readonly gc: ProbeDistribution & { readonly byKind: Record<string, ProbeDistribution> }
  readonly commits: ProbeDistribution & {
    readonly checkpoints: ProbeDistribution
    readonly withoutCheckpoint: ProbeDistribution
  }
  /** fdatasync/fsync through the callback API: call → callback (off the loop). */
  readonly syncs: ProbeDistribution
}

/**
 * One interval: a blocking one of the event loop (a GC pause or a SQLite commit), or an
 * asynchronous file sync on the thread pool that commits wait for (`sync`).
 */
export interface ProbeEvent {
  readonly kind: 'gc' | 'commit' | 'checkpoint' | 'sync'
  readonly startMs: number
  readonly durationMs: number
}

export type ProbeReply =
  | { readonly type: 'memory'; readonly memory: ProbeMemory }
  | { readonly type: 'stats'; readonly stats: ProbeStats }
  | { readonly type: 'timeline'; readonly events: readonly ProbeEvent[] }
  | { readonly type: 'reset' }
  | { readonly type: 'profile-start' }
  | { readonly type: 'profile-stop' }
  | { readonly type: 'heap-snapshot' }

const MAX_EVENTS = 500_000

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
// performance.now() and hrtime differ by a constant: GC entries carry performance time.
const performanceToMonotonic = nowMs() - performance.now()

const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
let elu = performance.eventLoopUtilization()
let since = nowMs()
let events: ProbeEvent[] = []
let gcByKind: [string, number][] = []
const gcKinds = new Map<number, string>([
  [1, 'minor'],
  [2, 'major'],
  [4, 'incremental'],
  [8, 'weakcb'],
])

function record(event: ProbeEvent): void {
  if (events.length < MAX_EVENTS) events.push(event)
}

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0
    record({
      kind: 'gc',
      startMs: entry.startTime + performanceToMonotonic,
      durationMs: entry.duration,
    })
    gcByKind.push([gcKinds.get(kind) ?? String(kind), entry.duration])
  }
}).observe({ entryTypes: ['gc'] })

instrumentSqlite()
instrumentSyncs()

function distribution(samples: readonly number[]): ProbeDistribution {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, max: 0, total: 0 }
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
  return {
    count: sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    total: sorted.reduce((a, b) => a + b, 0),
  }
}

function stats(): ProbeStats {
  const ns = (v: number): number => v / 1e6
  const gcs = events.filter((e) => e.kind === 'gc').map((e) => e.durationMs)
  const commits = events.filter((e) => e.kind === 'commit' || e.kind === 'checkpoint')
  const kinds = new Map<string, number[]>()
  for (const [kind, ms] of gcByKind) kinds.set(kind, [...(kinds.get(kind) ?? []), ms])
  return {
    sinceMs: since,
    untilMs: nowMs(),
    eventLoopDelay: {
      count: delay.count,
      p50: ns(delay.percentile(50)),
      p90: ns(delay.percentile(90)),
      p99: ns(delay.percentile(99)),
      p999: ns(delay.percentile(99.9)),
      max: ns(delay.max),
      mean: ns(delay.mean),
    },
    eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
    gc: {
      ...distribution(gcs),
      byKind: Object.fromEntries([...kinds].map(([k, v]) => [k, distribution(v)])),
    },
    commits: {
      ...distribution(commits.map((e) => e.durationMs)),
      checkpoints: distribution(
        commits.filter((e) => e.kind === 'checkpoint').map((e) => e.durationMs),
      ),
      withoutCheckpoint: distribution(
        commits.filter((e) => e.kind === 'commit').map((e) => e.durationMs),
      ),
    },
    syncs: distribution(events.filter((e) => e.kind === 'sync').map((e) => e.durationMs)),
  }
}

function memory(): ProbeMemory {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    gc()
  }
  const m = process.memoryUsage()
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    collected: gc !== undefined,
    ...rssKinds(),
  }
}

function rssKinds(): Pick<ProbeMemory, 'rssKinds'> {
  let status: string
  try {
    status = readFileSync('/proc/self/status', 'utf8')
  } catch {
    return {}
  }
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { rssKinds: { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') } }
}

let inspector: Session | undefined

function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    inspector!.post(method, params ?? {}, (error, result) =>
      error === null ? resolve(result) : reject(error),
    )
  })
}

async function profile(request: ProbeRequest): Promise<ProbeReply> {
  if (request.type === 'profile-start') {
    inspector = new Session()
    inspector.connect()
    await post('Profiler.enable')
    await post('Profiler.setSamplingInterval', { interval: 1000 })
    await post('Profiler.start')
    return { type: 'profile-start' }
  }
  if (request.type === 'profile-stop' && inspector !== undefined) {
    const { profile: data } = (await post('Profiler.stop')) as { profile: unknown }
    writeFileSync(request.path, JSON.stringify(data))
    inspector.disconnect()
    inspector = undefined
  }
  return { type: 'profile-stop' }
}

if (process.send !== undefined) {
  process.on('message', (request: ProbeRequest) => {
    if (request.type === 'profile-start' || request.type === 'profile-stop') {
      void profile(request).then((reply) => process.send?.(reply))
      return
    }
    let reply: ProbeReply
    switch (request.type) {
      case 'memory':
        reply = { type: 'memory', memory: memory() }
        break
      case 'stats':
        reply = { type: 'stats', stats: stats() }
        break
      case 'timeline':
        reply = { type: 'timeline', events }
        break
      case 'heap-snapshot':
        writeHeapSnapshot(request.path)
        reply = { type: 'heap-snapshot' }
        break
      case 'reset':
        delay.reset()
        elu = performance.eventLoopUtilization()
        since = nowMs()
        events = []
        gcByKind = []
        reply = { type: 'reset' }
        break
    }
    process.send?.(reply)
  })
  // The channel must not keep a server alive that was asked to stop.
  process.channel?.unref()
}

// ---------------------------------------------------------------------------------------------
// SQLite (better-sqlite3), if the server uses it

interface Statement {
  readonly source: string
  readonly reader: boolean
  readonly database: { readonly name: string; readonly inTransaction: boolean }
  run(...args: unknown[]): unknown
}

interface DatabaseClass {
  new (path: string): {
    prepare(sql: string): Statement
    pragma(sql: string): unknown
    close(): void
  }
  prototype: { pragma(this: unknown, sql: string, options?: unknown): unknown }
}

function instrumentSqlite(): void {
  let Database: DatabaseClass
  try {
    // Resolved from the server's entry point, so it is the copy the server will load.
    const require = createRequire(process.argv[1] ?? `${process.cwd()}/`)
    Database = require('better-sqlite3') as DatabaseClass
  } catch {
    return
  }
  const scratch = new Database(':memory:')
  const statementPrototype = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Statement
  scratch.close()

  const run = statementPrototype.run
  statementPrototype.run = function (this: Statement, ...args: unknown[]): unknown {
    const source = this.source
    const commit =
      source === 'COMMIT' ||
      (!this.reader && !this.database.inTransaction && !source.startsWith('BEGIN'))
    if (!commit) return run.apply(this, args)
    const wal = walIndexOf(this.database.name)
    const before = wal?.backfilled()
    const start = nowMs()
    try {
      return run.apply(this, args)
    } finally {
      const durationMs = nowMs() - start
      const after = wal?.backfilled()
      const checkpoint = after !== undefined && after > 0 && after !== before
      record({ kind: checkpoint ? 'checkpoint' : 'commit', startMs: start, durationMs })
    }
  }

  const overrides = (process.env.SEQLINE_PROBE_SQLITE_PRAGMAS ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  if (overrides.length === 0) return
  const pragma = Database.prototype.pragma
  Database.prototype.pragma = function (this: unknown, sql: string, options?: unknown): unknown {
    const result = pragma.call(this, sql, options)
    // Right after the server's own durability setting, so that ours wins.
    if (/^\s*synchronous\s*=/i.test(sql)) for (const p of overrides) pragma.call(this, p)
    return result
  }
}

// ---------------------------------------------------------------------------------------------
// File syncs on the thread pool

type SyncCallback = (error: NodeJS.ErrnoException | null) => void
type SyncFunction = (fd: number, callback: SyncCallback) => void

function instrumentSyncs(): void {
  // The CommonJS module object is the mutable one; syncBuiltinESMExports() then updates the named
  // exports that ES modules (the server's) import from 'node:fs'.
  const fs = createRequire(import.meta.url)('node:fs') as Record<
    'fdatasync' | 'fsync',
    SyncFunction
  >
  for (const name of ['fdatasync', 'fsync'] as const) {
    const original = fs[name]
    fs[name] = (fd: number, callback: SyncCallback): void => {
      const start = nowMs()
      original(fd, (error) => {
        record({ kind: 'sync', startMs: start, durationMs: nowMs() - start })
        callback(error)
      })
    }
  }
  syncBuiltinESMExports()
}

/** Reads the checkpoint counter from a database's WAL index (`-shm`, native byte order). */
interface WalIndex {
  backfilled(): number | undefined
}

const walIndexes = new Map<string, WalIndex | undefined>()

function walIndexOf(path: string): WalIndex | undefined {
  if (walIndexes.has(path)) return walIndexes.get(path)
  let index: WalIndex | undefined
  if (path !== ':memory:' && path !== '') {
    const header = Buffer.alloc(100)
    let fd: number | undefined
    index = {
      backfilled() {
        try {
          fd ??= openSync(`${path}-shm`, 'r')
          if (readSync(fd, header, 0, 100, 0) < 100) return undefined
          // WalCkptInfo.nBackfill follows the two 48-byte copies of the WAL index header.
          return header.readUInt32LE(96)
        } catch {
          if (fd !== undefined) closeSync(fd)
          fd = undefined
          return undefined
        }
      },
    }
  }
  walIndexes.set(path, index)
  return index
}
