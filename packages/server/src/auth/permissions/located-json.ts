// A JSON parser that remembers where every value starts, so that a configuration file's errors
// can name their line and column. JSON.parse cannot: it returns bare values, and its syntax errors
// differ between Node versions. It is strict JSON (RFC 8259) plus two refusals that matter for
// security configuration: a duplicate key (JSON.parse silently keeps the last one, so a second
// "allow" would quietly replace the first) and nesting deeper than MAX_DEPTH.

/** One parsed JSON value with the offset (UTF-16 index into the text) where it starts. */
export type JsonNode =
  | { readonly kind: 'object'; readonly offset: number; readonly entries: readonly JsonEntry[] }
  | { readonly kind: 'array'; readonly offset: number; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly offset: number; readonly value: string }
  | { readonly kind: 'number'; readonly offset: number; readonly value: number }
  | { readonly kind: 'boolean'; readonly offset: number; readonly value: boolean }
  | { readonly kind: 'null'; readonly offset: number }

/** One `"key": value` member of an object, in source order. */
export interface JsonEntry {
  readonly key: string
  readonly keyOffset: number
  readonly value: JsonNode
}

/** A line and column, both from 1, as editors show them. */
export interface TextPosition {
  readonly line: number
  readonly column: number
}

/** The text is not valid JSON; `offset` is where the parser stopped. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError'
  readonly code = 'JSON_SYNTAX' as const

  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
  }
}

const MAX_DEPTH = 64

/**
 * Parses `text` into a tree of {@link JsonNode}s. Throws {@link JsonSyntaxError} on invalid JSON
 * and on duplicate keys.
 *
 * @example
 * const root = parseLocatedJson('{"rules": []}')
 * positionAt(text, root.offset) // → { line: 1, column: 1 }
 */
export function parseLocatedJson(text: string): JsonNode {
  // A UTF-8 byte order mark, as some Windows editors write, is not part of the document.
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const parser = new Parser(text, start)
  parser.skipSpace()
  const root = parser.value(0)
  parser.skipSpace()
  if (parser.index < text.length) parser.fail('unexpected text after the JSON value')
  return root
}

/** The line and column of `offset` in `text` (lines end at `\n`; a `\r` before it is ignored). */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line += 1
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

class Parser {
  constructor(
    readonly text: string,
    public index: number,
  ) {}

  fail(message: string, at = this.index): never {
    throw new JsonSyntaxError(message, at)
  }

  skipSpace(): void {
    while (this.index < this.text.length) {
      const c = this.text[this.index]
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return
      this.index += 1
    }
  }

  value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`)
    const offset = this.index
    const c = this.text[this.index]
    if (c === '{') return this.object(depth)
    if (c === '[') return this.array(depth)
    if (c === '"') return { kind: 'string', offset, value: this.string() }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number()
    for (const [word, node] of [
      ['true', { kind: 'boolean', offset, value: true }],
      ['false', { kind: 'boolean', offset, value: false }],
      ['null', { kind: 'null', offset }],
    ] as const) {
      if (this.text.startsWith(word, this.index)) {
        this.index += word.length
        return node
      }
    }
    return this.fail(
      c === undefined ? 'unexpected end of the file' : `unexpected ${describeChar(c)}`,
    )
  }

  object(depth: number): JsonNode {
    const offset = this.index
    this.index += 1
    const entries: JsonEntry[] = []
    const seen = new Set<string>()
    this.skipSpace()
    if (this.text[this.index] === '}') {
      this.index += 1
      return { kind: 'object', offset, entries }
    }
    for (;;) {
      this.skipSpace()
      const keyOffset = this.index
      if (this.text[this.index] !== '"') this.fail('expected a "quoted" key')
      const key = this.string()
      if (seen.has(key)) this.fail(`duplicate key "${key}"`, keyOffset)
      seen.add(key)
      this.skipSpace()
      if (this.text[this.index] !== ':') this.fail(`expected ":" after the key "${key}"`)
      this.index += 1
      this.skipSpace()
      entries.push({ key, keyOffset, value: this.value(depth + 1) })
      this.skipSpace()
      const next = this.text[this.index]
      this.index += 1
      if (next === '}') return { kind: 'object', offset, entries }
      if (next !== ',') this.fail('expected "," or "}"', this.index - 1)
    }
  }

  array(depth: number): JsonNode {
    const offset = this.index
    this.index += 1
    const items: JsonNode[] = []
    this.skipSpace()
    if (this.text[this.index] === ']') {
      this.index += 1
      return { kind: 'array', offset, items }
    }
    for (;;) {
      this.skipSpace()
      items.push(this.value(depth + 1))
      this.skipSpace()
      const next = this.text[this.index]
      this.index += 1
      if (next === ']') return { kind: 'array', offset, items }
      if (next !== ',') this.fail('expected "," or "]"', this.index - 1)
    }
  }

  string(): string {
    const start = this.index
    this.index += 1
    let out = ''
    for (;;) {
      const c = this.text[this.index]
      if (c === undefined) this.fail('unterminated string', start)
      if (c === '"') {
        this.index += 1
        return out
      }
      if (c < ' ') this.fail('control character in a string (escape it)')
      if (c !== '\\') {
        out += c
        this.index += 1
        continue
      }
      const escape = this.text[this.index + 1]
      if (escape === 'u') {
        const hex = this.text.slice(this.index + 2, this.index + 6)
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape')
        out += String.fromCharCode(Number.parseInt(hex, 16))
        this.index += 6
        continue
      }
      const decoded = escape === undefined ? undefined : ESCAPES[escape]
      if (decoded === undefined) this.fail('unknown escape in a string')
      out += decoded
      this.index += 2
    }
  }

  number(): JsonNode {
    const offset = this.index
    NUMBER.lastIndex = this.index
    const match = NUMBER.exec(this.text)
    if (match === null) return this.fail('malformed number')
    this.index += match[0].length
    return { kind: 'number', offset, value: Number(match[0]) }
  }
}

function describeChar(c: string): string {
  return /[\x21-\x7e]/.test(c)
    ? `"${c}"`
    : `character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}
