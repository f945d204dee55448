import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir, type TempDir } from '../../../../test/support/temp-dir.js'
import { resolveSecret } from './secret-file.js'

const sources = { envName: 'SEQLINE_X_SECRET', what: 'x secret', fileFlag: '--x-secret-file' }

describe('resolveSecret', () => {
  let dir: TempDir
  let file: string

  beforeAll(async () => {
    dir = await createTempDir()
    file = dir.join('secret')
    await writeFile(file, '  from-the-file\r\n')
  })

  afterAll(() => dir.remove())

  it('reads the file without surrounding whitespace', () => {
    expect(resolveSecret({ ...sources, file, env: {} })).toBe('from-the-file')
  })

  it('reads the environment variable', () => {
    expect(resolveSecret({ ...sources, env: { SEQLINE_X_SECRET: 'from-env' } })).toBe('from-env')
  })

  it('returns undefined when neither is set, an empty variable counting as unset', () => {
    expect(resolveSecret({ ...sources, env: { SEQLINE_X_SECRET: ' ' } })).toBeUndefined()
  })

  it('refuses both at once, naming both without the secret', () => {
    const run = (): unknown => resolveSecret({ ...sources, file, env: { SEQLINE_X_SECRET: 'e-v' } })
    expect(run).toThrow(/--x-secret-file and by SEQLINE_X_SECRET/)
    expect(run).not.toThrow(/e-v|from-the-file/)
  })

  it('fails on a missing or empty file', async () => {
    expect(() => resolveSecret({ ...sources, file: dir.join('missing'), env: {} })).toThrow(
      /Cannot read the x secret file/,
    )
    const empty = dir.join('empty')
    await writeFile(empty, '\n')
    expect(() => resolveSecret({ ...sources, file: empty, env: {} })).toThrow(/is empty/)
  })
})
