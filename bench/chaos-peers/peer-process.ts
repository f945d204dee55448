import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { ServerControl } from '../../test/chaos/harness/chaos-system.js'

/**
 * Runs a peer server script (`node --import tsx <script>`) on a fixed port, so that it can be
 * killed with SIGKILL and started again where its clients expect it. The script prints
 * `{"port": n}` once it listens.
 */
export async function startPeerProcess(
  script: string,
  env: Record<string, string>,
): Promise<ServerControl> {
  const path = fileURLToPath(new URL(script, import.meta.url))
  let child = await spawnPeer(path, env)
  return {
    get pid() {
      return child.pid ?? -1
    },
    async kill9() {
      await stop(child, 'SIGKILL')
    },
    async restart() {
      await stop(child, 'SIGTERM')
      child = await spawnPeer(path, env)
    },
    async dispose() {
      await stop(child, 'SIGTERM')
    },
  }
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

function spawnPeer(path: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path} did not start`)), 20_000)
    child.once('exit', (code) => reject(new Error(`${path} exited with ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"port"')) return
      clearTimeout(timer)
      resolve(child)
    })
  })
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill(signal)
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
  })
}
