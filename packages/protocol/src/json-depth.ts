/** Default bound on the nesting depth of a JSON value (arrays and objects), see {@link jsonDepthExceeds}. */
export const MAX_JSON_DEPTH = 64

/**
 * Whether the JSON text nests arrays and objects deeper than `maxDepth`. One pass over the text,
 * without recursion and without parsing: a hostile value nested thousands deep must be refused
 * before anything recursive (`JSON.stringify`, a renderer) touches it. Brackets inside strings do
 * not count. The text is assumed to be JSON; for anything else the answer is meaningless but safe.
 *
 * @example
 * jsonDepthExceeds('[[1]]', 1) // → true
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i += 1
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth -= 1
  }
  return false
}
