import { closeSync, fdatasync, openSync } from 'node:fs'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

/**
 * Makes a SQLite database's commits durable without blocking the event loop.
 *
 * better-sqlite3 is synchronous: with `synchronous=FULL`, every `COMMIT` waits for the WAL's fsync
 * on the event loop, and nothing else runs meanwhile — no publish is read, no frame written, no
 * ack sent. So the connection runs with `synchronous=NORMAL` (a commit writes its WAL frames and
 * returns), and the store awaits {@link durable} before it answers a write: one `fdatasync` of the
 * WAL file on libuv's thread pool covers every commit made before it started, so writes that
 * arrive while one is in flight share the next one (group commit across transactions). Readers
 * await {@link visible} so that nobody is shown a commit that a power loss could still undo.
 *
 * If an fsync fails, what reached the disk is unknown: every later write and read fails too, until
 * the process restarts and SQLite recovers from the WAL.
 *
 * @example
 * const sync = new WalSync(`${path}-wal`)
 * db.transaction(write).immediate()
 * sync.wrote()
 * await sync.durable()
 */
export class WalSync {
  readonly #path: string
  #fd: number | undefined
  /** Commits made so far, and how many of them the last completed fsync covers. */
  #written = 0
  #synced = 0
  #running: Promise<void> | undefined
  #failed: SeqlineError | undefined

  /** `path`: the WAL file (`<database>-wal`); it is opened at the first sync. */
  constructor(path: string) {
    this.#path = path
  }

  /** Whether a commit is not known to be on disk yet. */
  get pending(): boolean {
    return this.#synced < this.#written
  }

  /** Records a commit (call it right after the transaction). */
  wrote(): void {
    this.#written += 1
  }

  /** Resolves once every commit recorded so far is on disk. */
  async durable(): Promise<void> {
    const target = this.#written
    while (this.#synced < target) {
      this.#running ??= this.#sync().finally(() => {
        this.#running = undefined
      })
      await this.#running
    }
    if (this.#failed !== undefined) throw this.#failed
  }

  /** Resolves once nothing a reader could see is still only in memory. */
  async visible(): Promise<void> {
    while (this.pending) await this.durable()
    if (this.#failed !== undefined) throw this.#failed
  }

  /**
   * Before a read: `undefined` when it may go ahead at once (the hot path allocates nothing),
   * else a promise of {@link visible}, which rejects once an fsync has failed.
   */
  beforeRead(): Promise<void> | undefined {
    return this.pending || this.#failed !== undefined ? this.visible() : undefined
  }

  /** Closes the WAL file (after a last sync); the database closes after this. */
  async close(): Promise<void> {
    if (this.#failed === undefined) await this.durable().catch(() => undefined)
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  async #sync(): Promise<void> {
    const covers = this.#written
    if (this.#failed === undefined) {
      try {
        this.#fd ??= openSync(this.#path, 'r')
        const fd = this.#fd
        await new Promise<void>((resolve, reject) =>
          fdatasync(fd, (error) => (error === null ? resolve() : reject(error))),
        )
      } catch (error) {
        this.#failed = new SeqlineError(
          ErrorCode.INTERNAL,
          `the SQLite WAL could not be synced to disk (${(error as Error).message}); restart the server`,
        )
      }
    }
    this.#synced = Math.max(this.#synced, covers)
  }
}
