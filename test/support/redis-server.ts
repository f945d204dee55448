import { execFile } from 'node:child_process'
import { setTimeout as delay } from 'node:timers/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

// The machine's Redis, for chaos tests that restart it. The start command is the one `.ci/run`
// uses, so the server comes back exactly as CI configured it.
const START_ARGS = [
  '--daemonize',
  'yes',
  '--bind',
  '127.0.0.1',
  '-::1',
  '--port',
  '6379',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  '/var/lib/redis',
  '--logfile',
  '/var/log/redis/ci.log',
]

/** Whether Redis answers PING. */
export async function redisIsUp(): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['ping'], { timeout: 2_000 })
    return stdout.trim() === 'PONG'
  } catch {
    return false
  }
}

/** Stops Redis without saving (`redis-cli shutdown nosave`); resolves once it no longer answers. */
export async function stopRedis(): Promise<void> {
  await run('redis-cli', ['shutdown', 'nosave'], { timeout: 5_000 }).catch(() => undefined)
  for (let i = 0; i < 50 && (await redisIsUp()); i++) await delay(100)
}

/** Starts Redis if it is down, with CI's command line; resolves once it answers PING. */
export async function ensureRedisUp(): Promise<void> {
  if (await redisIsUp()) return
  await run('redis-server', START_ARGS, { timeout: 10_000 })
  for (let i = 0; i < 100; i++) {
    if (await redisIsUp()) return
    await delay(100)
  }
  throw new Error('redis-server did not come back up')
}
