import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir, type TempDir } from '../../../../test/support/temp-dir.js'
import { createLogger } from '../observability/logger.js'
import { resolveAuthorize } from './authorize-option.js'

const logger = createLogger({ level: 'silent' })

describe('resolveAuthorize', () => {
  let dir: TempDir
  let file: string

  beforeAll(async () => {
    dir = await createTempDir()
    file = dir.join('permissions.json')
    await writeFile(file, JSON.stringify({ rules: [{ stream: 'public:*', allow: ['read'] }] }))
  })

  afterAll(() => dir.remove())

  it('refuses two ways of authorizing at once', () => {
    const callback = { url: 'http://127.0.0.1:9/', secret: 'x'.repeat(32) }
    expect(() => resolveAuthorize({ authorize: () => true, permissions: file }, logger)).toThrow(
      'Give one way of authorizing, not an authorize hook and a permissions file',
    )
    expect(() =>
      resolveAuthorize({ permissions: file, authorizeCallback: callback }, logger),
    ).toThrow('not a permissions file and an authorize callback URL')
  })

  it('compiles the permissions file into the authorize hook', async () => {
    const authorize = resolveAuthorize({ permissions: file }, logger)
    expect(await authorize?.('a', 'public:x', 'read', { claims: {} })).toBe(true)
    expect(await authorize?.('a', 'public:x', 'publish', { claims: {} })).toBe(false)
  })

  it('passes a hook through and leaves the default when neither is given', () => {
    const hook = (): boolean => false
    expect(resolveAuthorize({ authorize: hook }, logger)).toBe(hook)
    expect(resolveAuthorize({}, logger)).toBeUndefined()
  })

  it('fails on a permissions file that cannot be read', () => {
    expect(() => resolveAuthorize({ permissions: dir.join('missing.json') }, logger)).toThrow(
      /Cannot read the permissions file/,
    )
  })
})
