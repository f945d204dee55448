import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** A server child process that reported its port on stdout. */
export interface SpawnedServer {
  readonly port: number
  readonly pid: number
  stop(): Promise<void>
}

/**
 * Spawns `node <args>` and resolves with the first `port` found in a JSON line on stdout
 * (both Seqline's `listening` log line and the baseline servers print one).
 */
export function spawnServer(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<SpawnedServer> {
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  process.once('exit', () => child.kill('SIGKILL'))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port from ${args.join(' ')}`)), 30_000)
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)))
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      let port: unknown
      try {
        port = (JSON.parse(line) as { port?: unknown }).port
      } catch {
        return
      }
      if (typeof port !== 'number') return
      clearTimeout(timer)
      resolve({
        port,
        pid: child.pid!,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done())
            child.kill('SIGTERM')
            setTimeout(() => child.kill('SIGKILL'), 5000).unref()
          }),
      })
    })
  })
}
