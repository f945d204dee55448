import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode } from '@seqline/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WalSync } from './wal-sync.js'

describe('WalSync', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seqline-wal-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('resolves durable() once every commit recorded before it is synced', async () => {
    const path = join(dir, 'db-wal')
    await writeFile(path, 'frames')
    const sync = new WalSync(path)
    expect(sync.pending).toBe(false)
    sync.wrote()
    expect(sync.pending).toBe(true)
    const first = sync.durable()
    // A commit made while the first fsync may already run needs one more.
    sync.wrote()
    const second = sync.durable()
    await Promise.all([first, second])
    expect(sync.pending).toBe(false)
    await sync.visible()
    expect(sync.beforeRead()).toBeUndefined()
    await sync.close()
  })

  it('fails every later write and read once an fsync has failed', async () => {
    const sync = new WalSync(join(dir, 'missing-wal'))
    sync.wrote()
    await expect(sync.durable()).rejects.toMatchObject({ code: ErrorCode.INTERNAL })
    expect(sync.pending).toBe(false)
    sync.wrote()
    await expect(sync.durable()).rejects.toMatchObject({ code: ErrorCode.INTERNAL })
    await expect(sync.visible()).rejects.toMatchObject({ code: ErrorCode.INTERNAL })
    // Reads are refused too, although no commit is pending any more.
    expect(sync.pending).toBe(false)
    await expect(sync.beforeRead()).rejects.toMatchObject({ code: ErrorCode.INTERNAL })
    await sync.close()
  })
})
