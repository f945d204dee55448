import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_JWT_SECRET } from '../auth/jwt-tokens.js'
import { CLI_PATH } from '../support/server-process.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'

// F3: `npm start` used to listen on every interface with dev auth, where anyone on the network
// could act as anyone. Dev and no auth now listen on loopback unless the operator names another
// interface *and* says so loudly; NODE_ENV=production refuses them outright.

/** How a `seqline serve` run went: where it listened, or how it exited. */
type Outcome =
  | { readonly kind: 'listening'; readonly host: string; readonly output: string }
  | { readonly kind: 'exited'; readonly code: number | null; readonly output: string }

/**
 * Runs `seqline serve` as an operator would — no `--host` unless given — until it listens (then
 * stops it) or exits.
 */
function serve(args: readonly string[], env: Record<string, string> = {}): Promise<Outcome> {
  const inherited: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SEQLINE_') && key !== 'NODE_ENV') {
      inherited[key] = value
    }
  }
  const child = spawn(
    process.execPath,
    [CLI_PATH, 'serve', '--port', '0', '--store', 'memory:', ...args],
    { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  return new Promise<Outcome>((resolve) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      for (const line of output.split('\n')) {
        if (!line.includes('"seqline listening"')) continue
        const { host } = JSON.parse(line) as { host: string }
        child.kill('SIGKILL')
        resolve({ kind: 'listening', host, output })
        return
      }
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.once('exit', (code) => resolve({ kind: 'exited', code, output }))
  })
}

describe('insecure auth on the network (F3)', () => {
  let dir: TempDir
  let jwtSecretFile: string
  beforeAll(async () => {
    dir = await createTempDir()
    jwtSecretFile = dir.join('jwt-secret')
    await writeFile(jwtSecretFile, TEST_JWT_SECRET, { mode: 0o600 })
  })
  afterAll(() => dir?.remove())

  it.each([['dev'], ['none']])(
    'listens on loopback only with --auth %s by default',
    async (auth) => {
      const outcome = await serve(['--auth', auth])
      expect(outcome).toMatchObject({ kind: 'listening', host: '127.0.0.1' })
      expect(outcome.output).toMatch(/INSECURE|NO auth/)
    },
  )

  it('listens on every interface by default with real authentication', async () => {
    const outcome = await serve(['--auth', `jwt:file:${jwtSecretFile}`])
    expect(outcome).toMatchObject({ kind: 'listening', host: '0.0.0.0' })
  })

  it.each([
    ['--host', { args: ['--host', '0.0.0.0'], env: {} }],
    ['SEQLINE_HOST', { args: [], env: { SEQLINE_HOST: '0.0.0.0' } }],
  ])(
    'refuses dev and no auth on another interface named by %s, saying how to proceed',
    async (_how, { args, env }) => {
      for (const auth of ['dev', 'none']) {
        const outcome = await serve(['--auth', auth, ...args], env)
        expect(outcome, auth).toMatchObject({ kind: 'exited', code: 1 })
        expect(outcome.output, auth).toContain('Refusing to listen on 0.0.0.0 with dev/none auth')
        expect(outcome.output, auth).toContain('--dangerously-expose-insecure-auth')
      }
    },
  )

  it('exposes dev auth beyond loopback only with --dangerously-expose-insecure-auth', async () => {
    const outcome = await serve(['--host', '0.0.0.0', '--dangerously-expose-insecure-auth'])
    expect(outcome).toMatchObject({ kind: 'listening', host: '0.0.0.0' })
    expect(outcome.output).toContain('INSECURE dev auth')
  })

  it.each([['dev'], ['none']])(
    'refuses --auth %s with NODE_ENV=production, on any interface',
    async (auth) => {
      for (const args of [[], ['--host', '0.0.0.0', '--dangerously-expose-insecure-auth']]) {
        const outcome = await serve(['--auth', auth, ...args], { NODE_ENV: 'production' })
        expect(outcome).toMatchObject({ kind: 'exited', code: 1 })
        expect(outcome.output).toContain('refused with NODE_ENV=production')
      }
    },
  )

  it('starts with NODE_ENV=production and JWT auth', async () => {
    const outcome = await serve(['--auth', `jwt:file:${jwtSecretFile}`, '--host', '127.0.0.1'], {
      NODE_ENV: 'production',
    })
    expect(outcome).toMatchObject({ kind: 'listening', host: '127.0.0.1' })
  })
})
