/**
 * How much presence a stream keeps and shows:
 * - `on`: who is connected (the first users, then changes) and how many;
 * - `counts`: only how many users and clients (a 10,000-person #general shows a number);
 * - `off`: nothing is tracked or sent.
 */
export type PresenceMode = 'on' | 'counts' | 'off'

/** The presence mode of the streams whose names match `streams` (`*` matches any characters). */
export interface PresenceRule {
  readonly streams: string
  readonly mode: PresenceMode
}

const MODES: ReadonlySet<string> = new Set(['on', 'counts', 'off'])

/**
 * Parses rules written as `pattern=mode` pairs separated by commas, e.g.
 * `room:*=on,user:*=off,*=counts` (the `--presence` flag). Throws an `Error` naming the bad pair.
 */
export function parsePresenceRules(text: string): PresenceRule[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.lastIndexOf('=')
      const streams = part.slice(0, eq).trim()
      const mode = part.slice(eq + 1).trim()
      if (eq <= 0 || streams === '' || !MODES.has(mode)) {
        throw new Error(`Invalid presence rule "${part}": expected <pattern>=on|counts|off`)
      }
      return { streams, mode: mode as PresenceMode }
    })
}

/**
 * The function giving a stream's presence mode: the first matching rule wins, else `fallback`.
 * Answers are memoised per stream name (bounded), so a hot path pays one map lookup.
 */
export function presenceModes(
  rules: readonly PresenceRule[],
  fallback: PresenceMode,
): (stream: string) => PresenceMode {
  const compiled = rules.map((rule) => ({ pattern: globToRegExp(rule.streams), mode: rule.mode }))
  const memo = new Map<string, PresenceMode>()
  return (stream) => {
    const known = memo.get(stream)
    if (known !== undefined) return known
    const mode = compiled.find((rule) => rule.pattern.test(stream))?.mode ?? fallback
    if (memo.size >= 10_000) memo.clear()
    memo.set(stream, mode)
    return mode
  }
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${body}$`)
}
