import type { JsonArrayChunk, StoredMessage } from './store.js'

const OPEN = Buffer.from('[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']')

/**
 * Builds a {@link JsonArrayChunk} from messages read one by one (stores without a faster path):
 * the first message always, then as many as fit in `maxBytes` payload bytes.
 */
export function jsonArrayChunk(
  messages: readonly StoredMessage[],
  maxBytes: number,
): JsonArrayChunk | undefined {
  const first = messages[0]
  if (first === undefined) return undefined
  const parts: Uint8Array[] = [OPEN]
  let bytes = 0
  let last = first.offset
  for (const [i, message] of messages.entries()) {
    const size = message.data.byteLength
    if (i > 0 && bytes + size > maxBytes) break
    if (i > 0) parts.push(COMMA)
    parts.push(message.data)
    bytes += size
    last = message.offset
  }
  parts.push(CLOSE)
  return {
    first: first.offset,
    last,
    count: last - first.offset + 1,
    bytes,
    body: Buffer.concat(parts),
  }
}
