// Stream-name patterns of a permissions file: `user:{id}`, `room:{name}`, `dm:{a}:{b}`,
// `tenant:{t}/*`, `*`. A pattern is literal stream-name characters, captures and an optional
// trailing wildcard:
//
//   {name}  a capture: one or more name characters up to the next `:` or `/` (one segment);
//           when a capture is followed by a literal of the same segment (`{id}-inbox`), the
//           capture takes as much as it can and leaves the literal the rest
//   *       at the very end only: any rest of the name, possibly empty, `:` and `/` included
//
// Matching is anchored: `room:{name}` matches `room:general`, not `room:general:archive` and not
// `xroom:general`.

/** One piece of a pattern. */
export type PatternToken =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'capture'; readonly name: string }
  | { readonly kind: 'rest' }

/** A compiled stream-name pattern. */
export interface StreamPattern {
  /** The pattern as written. */
  readonly source: string
  readonly tokens: readonly PatternToken[]
  /** Names of its captures, in order. */
  readonly captures: readonly string[]
  readonly regex: RegExp
}

/** A pattern is malformed; `index` is where in the pattern string. */
export class StreamPatternError extends Error {
  override readonly name = 'StreamPatternError'
  readonly code = 'BAD_STREAM_PATTERN' as const

  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message)
  }
}

const LITERAL = /[A-Za-z0-9:_.@/-]/
const CAPTURE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const MAX_PATTERN_LENGTH = 400

/**
 * Parses and compiles a pattern. Throws {@link StreamPatternError} when it is malformed: a
 * character that no stream name has, an unclosed or unnamed capture, a capture used twice, two
 * captures side by side, or a `*` anywhere but at the end.
 *
 * @example
 * const pattern = parseStreamPattern('room:{name}')
 * matchStreamPattern(pattern, 'room:general') // → { name: 'general' }
 */
export function parseStreamPattern(source: string): StreamPattern {
  if (source === '') throw new StreamPatternError('a pattern cannot be empty', 0)
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new StreamPatternError(`a pattern is at most ${MAX_PATTERN_LENGTH} characters`, 0)
  }
  const tokens: PatternToken[] = []
  const captures: string[] = []
  let i = 0
  while (i < source.length) {
    const c = source[i] as string
    if (c === '*') {
      if (i !== source.length - 1) {
        throw new StreamPatternError('"*" may only end a pattern', i)
      }
      tokens.push({ kind: 'rest' })
      i += 1
    } else if (c === '{') {
      const close = source.indexOf('}', i)
      if (close < 0) throw new StreamPatternError('"{" without its "}"', i)
      const name = source.slice(i + 1, close)
      if (!CAPTURE_NAME.test(name)) {
        throw new StreamPatternError(
          `a capture is named with letters, digits and "_" (not starting with a digit): {${name}}`,
          i,
        )
      }
      if (captures.includes(name)) throw new StreamPatternError(`capture {${name}} used twice`, i)
      if (tokens.at(-1)?.kind === 'capture') {
        throw new StreamPatternError('two captures side by side cannot be told apart', i)
      }
      tokens.push({ kind: 'capture', name })
      captures.push(name)
      i = close + 1
    } else if (LITERAL.test(c)) {
      const last = tokens.at(-1)
      if (last?.kind === 'literal')
        tokens[tokens.length - 1] = { kind: 'literal', text: last.text + c }
      else tokens.push({ kind: 'literal', text: c })
      i += 1
    } else {
      throw new StreamPatternError(
        `"${c}" cannot appear in a stream name (letters, digits and : _ . @ / - only)`,
        i,
      )
    }
  }
  const first = tokens[0]
  if (first?.kind === 'literal' && !/^[A-Za-z0-9]/.test(first.text)) {
    throw new StreamPatternError('a stream name starts with a letter or a digit', 0)
  }
  const body = tokens
    .map((t) =>
      t.kind === 'literal'
        ? t.text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
        : t.kind === 'capture'
          ? '([A-Za-z0-9_.@-]+)'
          : '([A-Za-z0-9:_.@/-]*)',
    )
    .join('')
  return { source, tokens, captures, regex: new RegExp(`^${body}$`) }
}

/** The captures of `stream` when it matches `pattern`, `undefined` when it does not. */
export function matchStreamPattern(
  pattern: StreamPattern,
  stream: string,
): Record<string, string> | undefined {
  const match = pattern.regex.exec(stream)
  if (match === null) return undefined
  // A null-prototype object: a capture named `constructor` or `__proto__` is just a name.
  const captures: Record<string, string> = Object.create(null) as Record<string, string>
  pattern.captures.forEach((name, index) => {
    captures[name] = match[index + 1] ?? ''
  })
  return captures
}

// ---------------------------------------------------------------------------------------------
// Coverage: does every name that `inner` matches also match `outer`? (shadowed-rule warnings)
//
// Each pattern is a small automaton over an alphabet of classes: every literal character either
// pattern uses, the two separators `:` and `/`, and one stand-in for "any other name character"
// (all such characters behave alike in both patterns). States: position i (about to read token i)
// and "inside capture i" (read at least one character of it). `inner` ⊆ `outer` is decided by
// exploring both automata in lockstep from their starts: it fails when `inner` accepts where
// `outer` does not.

const OTHER = '\u0000'

/** One step per pattern character: the character itself, `cap` or `rest`. */
type Automaton = readonly string[]

/** Whether every stream name matched by `inner` is matched by `outer`. */
export function patternCovers(outer: StreamPattern, inner: StreamPattern): boolean {
  const a = automatonOf(outer)
  const b = automatonOf(inner)
  const alphabet = new Set([':', '/', OTHER])
  for (const step of [...a, ...b]) if (step.length === 1) alphabet.add(step)
  const start = (auto: Automaton): Set<number> => closure(auto, new Set([0]))
  const queue: [Set<number>, Set<number>][] = [[start(b), start(a)]]
  const seen = new Set<string>()
  while (queue.length > 0) {
    const [innerStates, outerStates] = queue.shift() as [Set<number>, Set<number>]
    const key = `${[...innerStates].sort().join(',')}|${[...outerStates].sort().join(',')}`
    if (seen.has(key)) continue
    seen.add(key)
    if (innerStates.has(2 * b.length) && !outerStates.has(2 * a.length)) return false
    for (const symbol of alphabet) {
      const nextInner = advance(b, innerStates, symbol)
      if (nextInner.size > 0) queue.push([nextInner, advance(a, outerStates, symbol)])
    }
  }
  return true
}

/** One step per character: a literal character, `cap` for a capture, `rest` for `*`. */
function automatonOf(pattern: StreamPattern): Automaton {
  return pattern.tokens.flatMap((t) =>
    t.kind === 'literal' ? [...t.text] : t.kind === 'capture' ? ['cap'] : ['rest'],
  )
}

// State 2i: at step i. State 2i+1: inside the capture of step i. Accepting: 2 × steps.
function closure(auto: Automaton, states: Set<number>): Set<number> {
  const out = new Set(states)
  for (const s of out) {
    const i = Math.floor(s / 2)
    const inside = s % 2 === 1
    if (inside || auto[i] === 'rest') out.add(2 * (i + 1))
  }
  return out
}

function advance(auto: Automaton, states: Set<number>, symbol: string): Set<number> {
  const nameChar = symbol !== ':' && symbol !== '/'
  const next = new Set<number>()
  for (const s of states) {
    const i = Math.floor(s / 2)
    if (s % 2 === 1) {
      if (nameChar) next.add(s)
      continue
    }
    const step = auto[i]
    if (step === undefined) continue
    if (step === 'rest') next.add(s)
    else if (step === 'cap') {
      if (nameChar) next.add(s + 1)
    } else if (step === symbol) next.add(2 * (i + 1))
  }
  return closure(auto, next)
}
