import type { StoredMessage } from '../store/store.js'

/**
 * How a transport turns a committed message into its wire form (a WebSocket frame, an SSE event).
 * One instance per format: it is the key under which a message keeps its encoded form.
 */
export interface MessageEncoding<T> {
  /** For logs and tests. */
  readonly name: string
  encode(message: CommittedMessage): T
}

/**
 * A committed message as the engine hands it to followers: the stored message with its stream's
 * name, epoch and content type. One object per message per node, shared by every follower of the
 * stream; each transport encodes it once per format (`encoded`) and writes those same bytes to
 * every follower — the serialise-once fan-out (docs/decisions.md). The engine itself never encodes.
 */
export class CommittedMessage {
  /** Encodings made so far, as [encoding, value] pairs: a transport or two, so a list beats a Map. */
  #encoded: unknown[] | undefined

  constructor(
    readonly stream: string,
    readonly epoch: string,
    readonly contentType: string,
    readonly stored: StoredMessage,
  ) {}

  get offset(): number {
    return this.stored.offset
  }

  /** The message in `encoding`'s format, encoded on first use and kept. */
  encoded<T>(encoding: MessageEncoding<T>): T {
    const cache = (this.#encoded ??= [])
    for (let i = 0; i < cache.length; i += 2) {
      if (cache[i] === encoding) return cache[i + 1] as T
    }
    const value = encoding.encode(this)
    cache.push(encoding, value)
    return value
  }

  /** Approximate bytes this message holds in memory once encoded, for window accounting. */
  get weight(): number {
    return this.stored.data.byteLength * 2 + 200
  }
}
