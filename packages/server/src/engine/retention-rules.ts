import type { RetentionPolicy, StreamRecord } from '../store/store.js'

/**
 * The retention of the streams whose names match `streams` (`*` matches any characters), laid
 * over the default policy: a limit the rule names replaces the default's, `null` removes it, and
 * a limit the rule leaves out is the default's.
 */
export interface RetentionRule {
  readonly streams: string
  /** Drop a message once every client following the stream acked it (see `RetentionPolicy`). */
  readonly untilAcked?: boolean | undefined
  /** Age limit, ms; `null`: none, whatever the default says. */
  readonly maxAgeMs?: number | null | undefined
  /** Count limit; `null`: none, whatever the default says. */
  readonly maxCount?: number | null | undefined
}

/** Where a stream's policy came from: its own, a rule (named by its pattern), or the default. */
export type RetentionSource =
  | { readonly kind: 'stream' }
  | { readonly kind: 'rule'; readonly streams: string }
  | { readonly kind: 'default' }

/** A stream's retention, resolved. */
export interface ResolvedRetention {
  readonly policy: RetentionPolicy
  readonly source: RetentionSource
}

/** Longest age limit a rule may give: ten years, as every duration setting. */
const MAX_AGE_MS = 10 * 365 * 24 * 60 * 60 * 1000
const PATTERN = /^[A-Za-z0-9:_.@/*-]{1,200}$/
const SYNTAX = 'expected <pattern>=<option>,… with until-acked, max-age-ms=<ms>, max-count=<n>'

/**
 * Parses the `--retention-rules` flag: rules separated by `;`, each `<pattern>=<options>` with
 * comma-separated options `until-acked`, `max-age-ms=<ms>` and `max-count=<n>` (0: no such
 * limit, whatever the default says). Throws an `Error` naming the bad rule and what is wrong.
 *
 * @example
 * parseRetentionRules('user:*=until-acked,max-age-ms=604800000;log:*=max-count=100000')
 * // → [{ streams: 'user:*', untilAcked: true, maxAgeMs: 604800000 },
 * //    { streams: 'log:*', maxCount: 100000 }]
 */
export function parseRetentionRules(text: string): RetentionRule[] {
  const rules = text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map(parseRule)
  checkRetentionRules(rules)
  return rules
}

/**
 * Checks rules given in code (`createServer({ retention: { rules } })`) as the parser does: a
 * pattern of stream-name characters and `*`, at least one limit, integer limits. Throws an
 * `Error` naming the bad rule.
 */
export function checkRetentionRules(rules: readonly RetentionRule[]): void {
  if (!Array.isArray(rules)) throw new Error('expected an array of retention rules')
  const seen = new Set<string>()
  for (const rule of rules) {
    const name = JSON.stringify(rule?.streams)
    if (typeof rule?.streams !== 'string' || !PATTERN.test(rule.streams)) {
      throw new Error(
        `Invalid retention rule ${name}: the pattern must be 1-200 stream-name characters or *`,
      )
    }
    if (seen.has(rule.streams)) {
      throw new Error(`Invalid retention rule ${name}: the pattern is given twice`)
    }
    seen.add(rule.streams)
    if (rule.untilAcked !== undefined && typeof rule.untilAcked !== 'boolean') {
      throw new Error(`Invalid retention rule ${name}: untilAcked must be true or false`)
    }
    checkLimit(name, 'maxAgeMs', rule.maxAgeMs, MAX_AGE_MS)
    checkLimit(name, 'maxCount', rule.maxCount, Number.MAX_SAFE_INTEGER)
    if (
      rule.untilAcked === undefined &&
      rule.maxAgeMs === undefined &&
      rule.maxCount === undefined
    ) {
      throw new Error(`Invalid retention rule ${name}: it sets nothing (${SYNTAX})`)
    }
  }
}

/**
 * Resolves the retention of each stream: its own policy (`StreamRecord.retention`) wins, then
 * the first rule whose pattern matches its name, then the default. Rule matches are memoised per
 * name (bounded), so the retention job pays one map lookup per stream.
 */
export class RetentionPolicies {
  readonly #rules: readonly { readonly pattern: RegExp; readonly resolved: ResolvedRetention }[]
  readonly #default: ResolvedRetention
  readonly #memo = new Map<string, ResolvedRetention>()

  constructor(rules: readonly RetentionRule[], defaultPolicy: RetentionPolicy) {
    this.#default = { policy: compact(defaultPolicy), source: { kind: 'default' } }
    this.#rules = rules.map((rule) => ({
      pattern: globToRegExp(rule.streams),
      resolved: {
        policy: layered(rule, defaultPolicy),
        source: { kind: 'rule', streams: rule.streams },
      },
    }))
  }

  /** The label of every source a policy may come from (see {@link retentionSourceLabel}). */
  get sourceLabels(): string[] {
    return [
      'stream',
      ...this.#rules.map((rule) => retentionSourceLabel(rule.resolved.source)),
      'default',
    ]
  }

  /** The policy that applies to `stream`, and where it came from. */
  of(stream: Pick<StreamRecord, 'name' | 'retention'>): ResolvedRetention {
    if (stream.retention !== null) return { policy: stream.retention, source: { kind: 'stream' } }
    const known = this.#memo.get(stream.name)
    if (known !== undefined) return known
    const resolved =
      this.#rules.find((rule) => rule.pattern.test(stream.name))?.resolved ?? this.#default
    if (this.#memo.size >= 10_000) this.#memo.clear()
    this.#memo.set(stream.name, resolved)
    return resolved
  }
}

/** A short, bounded label of where a policy came from: `stream`, `default` or the rule's pattern. */
export function retentionSourceLabel(source: RetentionSource): string {
  return source.kind === 'rule' ? source.streams : source.kind
}

function parseRule(part: string): RetentionRule {
  const eq = part.indexOf('=')
  const streams = part.slice(0, Math.max(0, eq)).trim()
  if (eq <= 0 || streams === '') throw new Error(`Invalid retention rule "${part}": ${SYNTAX}`)
  const rule: { -readonly [K in keyof RetentionRule]: RetentionRule[K] } = { streams }
  const options = part
    .slice(eq + 1)
    .split(',')
    .map((option) => option.trim())
  for (const option of options) {
    const [key = '', value, extra] = option.split('=').map((s) => s.trim())
    const fail = (why: string): never => {
      throw new Error(`Invalid retention rule "${part}": ${why}`)
    }
    const once = (field: keyof RetentionRule): void => {
      if (rule[field] !== undefined) fail(`"${key}" is given twice`)
    }
    if (extra !== undefined) fail(`"${option}" has more than one "="`)
    if (key === 'until-acked') {
      if (value !== undefined) fail('"until-acked" takes no value')
      once('untilAcked')
      rule.untilAcked = true
    } else if (key === 'max-age-ms' || key === 'max-count') {
      const field = key === 'max-age-ms' ? 'maxAgeMs' : 'maxCount'
      once(field)
      const max = key === 'max-age-ms' ? MAX_AGE_MS : Number.MAX_SAFE_INTEGER
      const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : Number.NaN
      if (!Number.isSafeInteger(n) || n > max) {
        fail(`"${key}" needs an integer from 0 (no limit) to ${max}`)
      }
      rule[field] = n === 0 ? null : n
    } else {
      fail(`unknown option "${option}" (${SYNTAX})`)
    }
  }
  return rule
}

function checkLimit(name: string, field: string, value: unknown, max: number): void {
  if (value === undefined || value === null) return
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new Error(
      `Invalid retention rule ${name}: ${field} must be null (no limit) or an integer from 1 to ${max}`,
    )
  }
}

/** The rule's limits over the default's (see {@link RetentionRule}). */
function layered(rule: RetentionRule, base: RetentionPolicy): RetentionPolicy {
  const pick = (own: number | null | undefined, inherited: number | undefined) =>
    own === undefined ? inherited : (own ?? undefined)
  return compact({
    maxAgeMs: pick(rule.maxAgeMs, base.maxAgeMs),
    maxCount: pick(rule.maxCount, base.maxCount),
    untilAcked: rule.untilAcked ?? base.untilAcked,
  })
}

/** The policy without unset limits, as the stores read policies back. */
function compact(policy: RetentionPolicy): RetentionPolicy {
  return {
    ...(policy.maxAgeMs === undefined ? {} : { maxAgeMs: policy.maxAgeMs }),
    ...(policy.maxCount === undefined ? {} : { maxCount: policy.maxCount }),
    ...(policy.untilAcked === true ? { untilAcked: true } : {}),
  }
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${body}$`)
}
