import { ErrorCode, SeqlineError } from '@seqline/protocol'

// JSON mode (Durable Streams §9.1): a POST body is one JSON value; a top-level array is flattened
// one level, each element becoming one message. Messages are stored as the element's own JSON
// text, sliced from the body rather than re-serialised, so that numbers beyond 2^53, key order
// and escapes survive byte for byte.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Validates a JSON body and returns its messages: the elements of a top-level array, or the value
 * itself. An empty array yields no message (the caller decides whether that is allowed: a PUT
 * may create an empty stream, a POST may not, §9.1.3). Throws BAD_REQUEST when the body is not
 * UTF-8 JSON (§9.1.4).
 */
export function splitJsonMessages(body: Uint8Array): Uint8Array[] {
  let text: string
  let value: unknown
  try {
    text = strictUtf8.decode(body)
    value = JSON.parse(text)
  } catch (cause) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The body is not valid JSON', { cause })
  }
  if (!Array.isArray(value)) return [Buffer.from(text.trim())]
  return topLevelElements(text).map((element) => Buffer.from(element))
}

/** The source text of each element of a JSON array text already known to be valid. */
function topLevelElements(text: string): string[] {
  const elements: string[] = []
  let depth = 0
  let inString = false
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
      continue
    }
    if (c === 0x22) {
      inString = true
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++
      if (depth === 1) start = i + 1
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth === 1) pushElement(elements, text, start, i)
      depth--
    } else if (c === 0x2c /* , */ && depth === 1) {
      pushElement(elements, text, start, i)
      start = i + 1
    }
  }
  return elements
}

function pushElement(elements: string[], text: string, start: number, end: number): void {
  const element = text.slice(start, end).trim()
  // `[]` has no element; valid JSON never has an empty one otherwise.
  if (element !== '') elements.push(element)
}

/** The body of a JSON-mode read: every message in one JSON array (§9.1.5). */
export function joinJsonMessages(messages: readonly { readonly data: Uint8Array }[]): Buffer {
  const parts: Uint8Array[] = [OPEN]
  messages.forEach((m, i) => {
    if (i > 0) parts.push(COMMA)
    parts.push(m.data)
  })
  parts.push(CLOSE)
  return Buffer.concat(parts)
}

const OPEN = Buffer.from('[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']')
