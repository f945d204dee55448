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

  it('refuses an authorize hook and a permissions file together', () => {
    expect(() => resolveAuthorize({ authorize: () => true, permissions: file }, logger)).toThrow(
      /either an authorize hook or a permissions file/,
    )
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
