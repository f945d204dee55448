import { execFile } from 'node:child_process'
import { copyFile, mkdir, readFile, realpath } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { createTempDir } from '../support/temp-dir.js'

// `npx seqline` in a fresh clone: npm links `node_modules/.bin/seqline` at install time only when
// the bin's target exists then, so the bin is a committed file (packages/server/bin/seqline.js)
// that runs the built CLI — and the lock file must name the same target, since `npm ci` links
// what the lock says. Without the link, `npx seqline` would ask the public registry.

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SERVER = `${ROOT}packages/server/`

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function json(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
}

describe('the seqline command', () => {
  it('is a committed, executable file, named alike by package.json and the lock file', async () => {
    const pkg = await json(`${SERVER}package.json`)
    expect(pkg['bin']).toEqual({ seqline: './bin/seqline.js' })
    const lock = (await json(`${ROOT}package-lock.json`)) as {
      packages: Record<string, { bin?: Record<string, string> }>
    }
    expect(lock.packages['packages/server']?.bin).toEqual({ seqline: 'bin/seqline.js' })
    const { stdout } = await run('git', ['ls-files', '--stage', 'packages/server/bin/seqline.js'], {
      cwd: ROOT,
    })
    expect(stdout).toMatch(/^100755 /)
  })

  it('is linked in node_modules/.bin and runs the CLI', async () => {
    const linked = await realpath(`${ROOT}node_modules/.bin/seqline`)
    expect(linked).toBe(await realpath(`${SERVER}bin/seqline.js`))
    const { stdout } = await run(`${ROOT}node_modules/.bin/seqline`, ['--version'])
    const pkg = await json(`${SERVER}package.json`)
    expect(stdout.trim()).toBe(pkg['version'])
  })

  it('says to build first when the CLI is not built', async () => {
    const dir = await createTempDir()
    cleanups.push(() => dir.remove())
    await mkdir(dir.join('bin'))
    await copyFile(`${SERVER}bin/seqline.js`, dir.join('bin', 'seqline.js'))
    const failed = await run(process.execPath, [dir.join('bin', 'seqline.js'), '--version']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    )
    expect(failed?.code).toBe(1)
    expect(failed?.stderr).toMatch(/not built .*run "npm run build" first/)
  })
})
