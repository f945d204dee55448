import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { CursorRecord, Store } from '../store/store.js'
import { CursorBuffer } from './cursor-buffer.js'
import type { StreamFollowers } from './stream-followers.js'

/**
 * The clients' cursors (DESIGN §2): cumulative acks, collected in memory and written in batches
 * (`flush`, run by a periodic job), so a client acking every message costs one row write per
 * interval. Every read of cursors writes what is buffered first: a client that acks, drops and
 * reconnects within one interval resumes from that ack, never from an older cursor (G2).
 */
export class CursorLog {
  readonly #buffer = new CursorBuffer()

  constructor(
    private readonly store: Store,
    private readonly followers: StreamFollowers,
    private readonly now: () => number,
  ) {}

  /** Records "`clientId` processed `stream` up to `offset`"; the offset must not pass the head. */
  async ack(clientId: string, stream: string, offset: number): Promise<void> {
    const hub = this.followers.get(stream)
    let epoch = hub?.epoch
    let head = hub?.head ?? 0
    if (hub === undefined || offset > head || epoch === '') {
      const record = await this.store.getStream(stream)
      if (record === undefined || record.softDeleted) {
        throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'no such stream')
      }
      epoch = record.epoch
      head = Math.max(hub?.epoch === record.epoch ? head : 0, record.head)
    }
    if (offset > head) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, `ack offset ${offset} is past the head ${head}`)
    }
    this.#buffer.record({ clientId, stream, epoch: epoch ?? '', offset })
  }

  /** Every cursor of a client, buffered acks included. */
  async ofClient(clientId: string): Promise<CursorRecord[]> {
    await this.flush()
    return this.store.getCursors(clientId)
  }

  /** A client's cursor in one stream, buffered acks included. */
  async of(clientId: string, stream: string): Promise<CursorRecord | undefined> {
    return (await this.ofClient(clientId)).find((c) => c.stream === stream)
  }

  /** Every cursor in a stream, buffered acks included. */
  async ofStream(stream: string): Promise<CursorRecord[]> {
    await this.flush()
    return this.store.getCursorsOfStream(stream)
  }

  /** Writes the acks collected since the last flush. */
  async flush(): Promise<void> {
    if (this.#buffer.size === 0) return
    await this.store.saveCursors(this.#buffer.drain(), this.now())
  }
}
