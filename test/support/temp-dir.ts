import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A directory under the OS temp dir that a test owns. */
export interface TempDir {
  readonly path: string
  /** `path` joined with `names`. */
  join(...names: string[]): string
  /** Deletes the directory and everything in it. Safe to call twice. */
  remove(): Promise<void>
}

/**
 * Creates a fresh, empty temp directory.
 *
 * @example
 * const dir = await createTempDir()
 * onTestFinished(() => dir.remove())
 * const store = new SqliteStore({ path: dir.join('seqline.db') })
 */
export async function createTempDir(prefix = 'seqline-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return {
    path,
    join: (...names) => join(path, ...names),
    remove: () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
  }
}
