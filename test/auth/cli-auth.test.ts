import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { TEST_JWT_SECRET, signToken } from './jwt-tokens.js'

// `seqline serve` with JWT auth, as an operator runs it: the secret comes from a file or from the
// environment, never from argv; tokens without `exp` and user ids outside USER_ID_PATTERN are
// refused at the door.

let dir: TempDir
let secretFile: string

beforeAll(async () => {
  dir = await createTempDir()
  secretFile = dir.join('jwt-secret')
  await writeFile(secretFile, `${TEST_JWT_SECRET}\n`, { mode: 0o600 })
})

afterAll(() => dir.remove())

/** Registers a client with `token`: 201 when the token is accepted, 401 when not. */
async function register(server: ServerProcess, token: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/clients`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  })
  await res.body?.cancel()
  return res.status
}

async function start(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const server = await startServerProcess({ args, env })
  onTestFinished(() => server.dispose())
  return server
}

describe('seqline serve --auth', () => {
  it('refuses a JWT secret given on the command line and does not print it', async () => {
    const refusal = await startServerProcess({ args: ['--auth', `jwt:${TEST_JWT_SECRET}`] }).then(
      () => undefined,
      (err: unknown) => err as Error,
    )
    expect(refusal?.message).toMatch(/exited with 1/)
    expect(refusal?.message).toMatch(/jwt:file:/)
    expect(refusal?.message).toMatch(/SEQLINE_AUTH=jwt:<secret>/)
    expect(refusal?.message).not.toContain(TEST_JWT_SECRET)
  })

  it('reads the secret of --auth jwt:file:<path>', async () => {
    const server = await start(['--auth', `jwt:file:${secretFile}`])
    expect(await register(server, await signToken('alice'))).toBe(201)
    expect(await register(server, await signToken('alice', {}, { secret: 'x'.repeat(40) }))).toBe(
      401,
    )
  })

  it('takes jwt:<secret> from SEQLINE_AUTH', async () => {
    const server = await start([], { SEQLINE_AUTH: `jwt:${TEST_JWT_SECRET}` })
    expect(await register(server, await signToken('alice'))).toBe(201)
  })

  it('refuses a token without exp unless --jwt-require-exp false', async () => {
    const noExp = await signToken('alice', {}, { expiresInSec: null })
    const strict = await start(['--auth', `jwt:file:${secretFile}`])
    expect(await register(strict, noExp)).toBe(401)
    const lenient = await start(['--auth', `jwt:file:${secretFile}`, '--jwt-require-exp', 'false'])
    expect(await register(lenient, noExp)).toBe(201)
  })

  it('accepts identity-provider subjects and refuses user ids outside USER_ID_PATTERN', async () => {
    const server = await start(['--auth', `jwt:file:${secretFile}`])
    expect(await register(server, await signToken('auth0|5f7c8ec7c33c6c004bbafe82'))).toBe(201)
    expect(await register(server, await signToken('bob+work@example.com'))).toBe(201)
    expect(await register(server, await signToken('alice smith'))).toBe(401)
    expect(await register(server, await signToken('alice\nadmin'))).toBe(401)
    expect(await register(server, await signToken('<script>'))).toBe(401)
  })
})

describe('seqline serve --permissions', () => {
  it('refuses to start on a malformed file, naming the line and the reason', async () => {
    const file = dir.join('bad-permissions.json')
    await writeFile(
      file,
      ['{"rules": [', '  { "stream": "room:{name}", "allow": ["read", "pubish"] }', ']}'].join(
        '\n',
      ),
    )
    const refusal = await startServerProcess({
      args: ['--auth', `jwt:file:${secretFile}`, '--permissions', file],
    }).then(
      () => undefined,
      (err: unknown) => err as Error,
    )
    expect(refusal?.message).toMatch(/exited with 1/)
    expect(refusal?.message).toContain(`${file}:2:48: unknown action "pubish"`)
  })

  it('logs a warning for a rule that can never match, and starts', async () => {
    const file = dir.join('shadowed-permissions.json')
    await writeFile(
      file,
      [
        '{"rules": [',
        '  { "stream": "room:*", "allow": ["read"] },',
        '  { "stream": "room:{name}", "deny": ["read"] }',
        ']}',
      ].join('\n'),
    )
    const server = await start(['--auth', `jwt:file:${secretFile}`, '--permissions', file])
    const warning = server.logs.find((line) => line.includes('can never match'))
    expect(warning).toContain(`permissions: ${file}:3:3: rule 2 can never match: rule 1 (line 2)`)
  })
})
