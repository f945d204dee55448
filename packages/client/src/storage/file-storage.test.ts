import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStorage } from './file-storage.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seqline-fs-'))
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('FileStorage', () => {
  it('stores, lists by prefix and deletes values across instances', async () => {
    const a = new FileStorage(dir)
    await a.set('ns/ob/1', { seq: 1 })
    await a.set('ns/pos/room:a', { epoch: 'e', offset: 3 })
    const b = new FileStorage(dir)
    expect(await b.get('ns/ob/1')).toEqual({ seq: 1 })
    expect(await b.keys('ns/ob/')).toEqual(['ns/ob/1'])
    await b.delete('ns/ob/1')
    expect(await b.get('ns/ob/1')).toBeUndefined()
  })

  it('keeps the last of concurrent writes and leaves no temporary files', async () => {
    const s = new FileStorage(dir)
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.set('k', i)))
    expect(await s.get('k')).toBe(19)
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([])
  })
})
