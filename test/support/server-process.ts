import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createTempDir, type TempDir } from './temp-dir.js'

/**
 * A permissions file that gives every signed-in user every right, `manage` included: for suites
 * that create streams with options or delete them and are not about authorization.
 */
export const OPEN_PERMISSIONS = fileURLToPath(new URL('./permissions/open.json', import.meta.url))

/** The built CLI: suites that spawn servers need `npm run build` first (`npm test` does it). */
export const CLI_PATH = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url))

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /** SQLite file. Default: `seqline.db` in a fresh temp dir, removed by `dispose()`. */
  readonly dbPath?: string
  /** Extra environment; inherited `SEQLINE_*` variables are dropped so tests stay hermetic. */
  readonly env?: Record<string, string>
  /** Extra flags after `serve`; they win over the defaults given here (`--host`, `--store`). */
  readonly args?: readonly string[]
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number
  /** How long to wait for the `listening` line. Default 15 s. */
  readonly startTimeoutMs?: number
}

/** A `seqline serve` child process. Fields follow the current incarnation across `restart()`. */
export interface ServerProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** `ws://127.0.0.1:<port>/v1/ws` */
  readonly wsUrl: string
  readonly port: number
  readonly pid: number
  readonly dbPath: string
  /** Output lines of the current process (stdout and stderr, last 2000). */
  readonly logs: readonly string[]
  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill9(): Promise<void>
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>
  /**
   * Stops the process if it still runs (SIGTERM) and starts a new one on the same database. The
   * same port by default, so clients reconnect to the same URL; `{ samePort: false }` for any port.
   */
  restart(options?: { readonly samePort?: boolean }): Promise<ServerProcess>
  /** Stops the process and removes the temp dir this helper created. */
  dispose(): Promise<void>
}

const HOST = '127.0.0.1'
const MAX_LOG_LINES = 2_000
// Children still alive when the test process exits are killed, so no server outlives its suite.
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Spawns `node packages/server/dist/cli.js serve --port 0 …` with a temp SQLite database and
 * resolves once it listens (the port comes from its JSON `listening` log line).
 *
 * @example
 * const server = await startServerProcess()
 * onTestFinished(() => server.dispose())
 * await server.kill9()
 * await server.restart()
 */
export async function startServerProcess(
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} does not exist: run "npm run build" before this suite`)
  }
  let tempDir: TempDir | undefined
  let dbPath = options.dbPath
  if (dbPath === undefined) {
    tempDir = await createTempDir('seqline-server-')
    dbPath = tempDir.join('seqline.db')
  }
  const fixedDbPath = dbPath

  let current = await spawnServer(fixedDbPath, options.port ?? 0, options)

  const handle: ServerProcess = {
    get url() {
      return `http://${HOST}:${current.port}`
    },
    get wsUrl() {
      return `ws://${HOST}:${current.port}/v1/ws`
    },
    get port() {
      return current.port
    },
    get pid() {
      return current.child.pid ?? -1
    },
    dbPath: fixedDbPath,
    get logs() {
      return current.logs
    },
    async kill9() {
      if (current.exited === undefined) current.child.kill('SIGKILL')
      await current.exit
    },
    stop: (timeoutMs = 10_000) => stopChild(current, timeoutMs),
    async restart({ samePort = true } = {}) {
      const port = current.port
      await stopChild(current, 10_000)
      current = await spawnServer(fixedDbPath, samePort ? port : 0, options)
      return handle
    },
    async dispose() {
      await stopChild(current, 10_000)
      await tempDir?.remove()
    },
  }
  return handle
}

interface Incarnation {
  readonly child: ChildProcess
  /** Known once the `listening` line arrived. */
  port: number
  readonly logs: string[]
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>
  exited: number | null | undefined
}

async function spawnServer(
  dbPath: string,
  port: number,
  options: ServerProcessOptions,
): Promise<Incarnation> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SEQLINE_')) env[key] = value
  }
  Object.assign(env, options.env)
  const args = [
    CLI_PATH,
    'serve',
    '--port',
    String(port),
    '--host',
    HOST,
    ...(env.SEQLINE_STORE === undefined ? ['--store', `sqlite:${dbPath}`] : []),
    // Later flags win (node:util parseArgs), so the caller's args override the ones above.
    ...(options.args ?? []),
  ]
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  const logs: string[] = []
  let resolvePort: (port: number) => void = () => undefined
  const portKnown = new Promise<number>((resolve) => (resolvePort = resolve))

  // Both pipes are always drained: a child whose stdout pipe fills up blocks on its next log line.
  const collect = (stream: NodeJS.ReadableStream, parse: boolean): void => {
    let partial = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        logs.push(line)
        if (logs.length > MAX_LOG_LINES) logs.shift()
        if (parse) {
          const listening = listeningPort(line)
          if (listening !== undefined) resolvePort(listening)
        }
      }
    })
  }
  collect(child.stdout as NodeJS.ReadableStream, true)
  collect(child.stderr as NodeJS.ReadableStream, false)

  const incarnation: Incarnation = {
    child,
    logs,
    port: 0,
    exited: undefined,
    exit: new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        running.delete(child)
        incarnation.exited = code
        resolve(code)
      })
    }),
  }

  const timeoutMs = options.startTimeoutMs ?? 15_000
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    portKnown.then((p) => ({ kind: 'listening' as const, port: p })),
    incarnation.exit.then((code) => ({ kind: 'exited' as const, code })),
    new Promise<{ kind: 'timeout' }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs)
    }),
  ])
  clearTimeout(timer)
  if (outcome.kind !== 'listening') {
    child.kill('SIGKILL')
    await incarnation.exit
    const why =
      outcome.kind === 'exited'
        ? `exited with ${outcome.code}`
        : `not listening after ${timeoutMs} ms`
    throw new Error(`seqline serve ${why}. Output:\n${logs.join('\n')}`)
  }
  incarnation.port = outcome.port
  return incarnation
}

function listeningPort(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const entry = JSON.parse(line) as { msg?: unknown; port?: unknown }
    return entry.msg === 'seqline listening' && typeof entry.port === 'number'
      ? entry.port
      : undefined
  } catch {
    return undefined
  }
}

async function stopChild(incarnation: Incarnation, timeoutMs: number): Promise<number | null> {
  if (incarnation.exited !== undefined) return incarnation.exited
  incarnation.child.kill('SIGTERM')
  const timer = setTimeout(() => incarnation.child.kill('SIGKILL'), timeoutMs)
  try {
    return await incarnation.exit
  } finally {
    clearTimeout(timer)
  }
}
