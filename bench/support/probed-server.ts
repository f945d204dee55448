import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { transformSync } from 'esbuild'
import type {
  ProbeEvent,
  ProbeMemory,
  ProbeReply,
  ProbeRequest,
  ProbeStats,
} from './server-probe.js'

/** A server child process running with the probe preloaded (bench/support/server-probe.ts). */
export interface ProbedServer {
  readonly port: number
  readonly pid: number
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  memory(): Promise<ProbeMemory>
  stats(): Promise<ProbeStats>
  timeline(): Promise<readonly ProbeEvent[]>
  /** Starts a new measurement window (event-loop delay, GC and commit records). */
  reset(): Promise<void>
  /** Starts the CPU profiler inside the server. */
  profileStart(): Promise<void>
  /** Stops it and writes the `.cpuprofile` to `path`. */
  profileStop(path: string): Promise<void>
  /** Writes a heap snapshot of the server to `path`. */
  heapSnapshot(path: string): Promise<void>
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>
  /** SIGKILL: a crash. */
  kill9(): Promise<void>
}

export interface ProbedServerOptions {
  /** Script and its arguments (`node [node options] <args>`). */
  readonly args: readonly string[]
  /** Node options before the script, e.g. `--cpu-prof`. `--expose-gc` is always added. */
  readonly nodeOptions?: readonly string[]
  readonly env?: NodeJS.ProcessEnv
  /** A command Node is started through, e.g. `['prlimit', '--nofile=40000:40000', '--']`. */
  readonly wrapper?: readonly string[]
  /** How long to wait for the port line. */
  readonly startTimeoutMs?: number
}

let compiledProbe: string | undefined

/** The probe compiled to a JavaScript module in a temporary directory (once per process). */
export function probePreloadPath(): string {
  if (compiledProbe !== undefined) return compiledProbe
  const source = fileURLToPath(new URL('./server-probe.ts', import.meta.url))
  // Compiled here rather than loaded through a TypeScript loader: the server runs plain Node.
  const { code } = transformSync(readFileSync(source, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: source,
  })
  const dir = mkdtempSync(join(tmpdir(), 'seqline-probe-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  compiledProbe = join(dir, 'server-probe.mjs')
  writeFileSync(compiledProbe, code)
  return compiledProbe
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Spawns `node --expose-gc --import <probe> …args` and resolves once the process printed a JSON
 * line with its `port` (Seqline's `listening` log line, or the baseline servers' `{"port": n}`).
 * Stdout is drained for the life of the process so that logging never blocks the server.
 */
export function startProbedServer(options: ProbedServerOptions): Promise<ProbedServer> {
  const command = [
    ...(options.wrapper ?? []),
    process.execPath,
    '--expose-gc',
    '--import',
    probePreloadPath(),
    ...(options.nodeOptions ?? []),
    ...options.args,
  ]
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  running.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child)
      resolve()
    }),
  )
  const waiting: { resolve: (reply: ProbeReply) => void; reject: (error: Error) => void }[] = []
  child.on('message', (reply: ProbeReply) => waiting.shift()?.resolve(reply))
  void exited.then(() => {
    for (const w of waiting.splice(0)) w.reject(new Error('the server exited'))
  })
  const ask = <T extends ProbeReply['type']>(
    request: ProbeRequest & { type: T },
  ): Promise<Extract<ProbeReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error('the server has exited'))
        return
      }
      waiting.push({
        resolve: (reply) => resolve(reply as Extract<ProbeReply, { type: T }>),
        reject,
      })
      child.send(request)
    })
  const signal = (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name)
    return exited
  }

  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no port from ${options.args.join(' ')}`)),
      options.startTimeoutMs ?? 30_000,
    )
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${options.args.join(' ')} exited with ${code}`))
    })
    let reported = false
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (reported || !line.startsWith('{')) return
      let port: unknown
      try {
        port = (JSON.parse(line) as { port?: unknown }).port
      } catch {
        return
      }
      if (typeof port !== 'number') return
      reported = true
      clearTimeout(timer)
      resolve({
        port,
        pid: child.pid!,
        exited,
        memory: async () => (await ask({ type: 'memory' })).memory,
        stats: async () => (await ask({ type: 'stats' })).stats,
        timeline: async () => (await ask({ type: 'timeline' })).events,
        reset: async () => void (await ask({ type: 'reset' })),
        profileStart: async () => void (await ask({ type: 'profile-start' })),
        profileStop: async (path) => void (await ask({ type: 'profile-stop', path })),
        heapSnapshot: async (path) => void (await ask({ type: 'heap-snapshot', path })),
        stop: () => {
          setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
          return signal('SIGTERM')
        },
        kill9: () => signal('SIGKILL'),
      })
    })
  })
}
