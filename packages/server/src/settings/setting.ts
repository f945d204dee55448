/**
 * One setting of the server, declared once: its default, how a command-line or environment value
 * is parsed, its help line, and — by where it sits in the settings table — its destination. The
 * settings' type, the CLI, the environment variables, `--help` and `createServer`'s defaults are
 * all derived from these declarations.
 */
export interface Setting<T> {
  readonly kind: 'setting'
  readonly default: T
  /** Flag name without dashes; the environment variable is derived (`SEQLINE_` + upper snake). */
  readonly flag?: string | undefined
  readonly help: string
  /** Parses a flag or environment value; throws an `Error` saying what is expected. */
  readonly parse: (raw: string) => T
  /**
   * Validates a value given to `createServer`; throws an `Error` saying what is expected. (A
   * method, so that a table can hold settings of every type.)
   */
  check?(value: T): void
  /** Flags without a value (`--flag`): true when present. */
  readonly boolean?: boolean | undefined
  /** Shown as the default in `--help` (when the value itself is not readable). */
  readonly shownDefault?: string | undefined
}

/** A settings table: settings and nested groups of settings. */
export interface SettingsTable {
  readonly [key: string]: Setting<unknown> | SettingsTable
}

/** The type of the settings a table declares. */
export type SettingsOf<S> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : SettingsOf<S[K]>
}

/**
 * Every level optional: what `createServer` accepts. `undefined` leaves a setting at its default;
 * `null` sets an optional one to "none" (e.g. no age retention).
 */
export type PartialSettings<S> = {
  readonly [K in keyof S]?: S[K] extends Setting<infer T>
    ? T | undefined | (undefined extends T ? null : never)
    : PartialSettings<S[K]>
}

type Common<T> = {
  readonly flag?: string
  readonly help: string
  readonly shownDefault?: string
  readonly default: T
}

const DAY_MS = 24 * 60 * 60 * 1000
/** Upper bound of durations given in ms: ten years. */
export const MAX_MS = 10 * 365 * DAY_MS

/** A non-negative integer in [min, max]. */
export function int(
  options: Common<number> & { readonly min?: number; readonly max?: number },
): Setting<number> {
  const min = options.min ?? 0
  const max = options.max ?? Number.MAX_SAFE_INTEGER
  const check = (n: number): void => {
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`expected an integer from ${min} to ${max}`)
    }
  }
  return {
    kind: 'setting',
    ...options,
    parse: (raw) => {
      const value = raw.trim()
      const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
      check(n)
      return n
    },
    check,
  }
}

/** An integer like {@link int} where 0 means "none" (undefined). */
export function optionalInt(
  options: Common<number | undefined> & { readonly min?: number; readonly max?: number },
): Setting<number | undefined> {
  const inner = int({ ...options, default: 0, min: 0 })
  const min = options.min ?? 1
  return {
    kind: 'setting',
    ...options,
    parse: (raw) => {
      const n = inner.parse(raw)
      if (n !== 0 && n < min) throw new Error(`expected 0 (none) or an integer from ${min}`)
      return n === 0 ? undefined : n
    },
    check: (n) => {
      if (n !== undefined) inner.check?.(n)
    },
  }
}

/** Non-empty text (or undefined when the default is undefined and nothing is given). */
export function text<T extends string | undefined>(options: Common<T>): Setting<T> {
  return {
    kind: 'setting',
    ...options,
    parse: (raw) => {
      const value = raw.trim()
      if (value === '') throw new Error('expected a non-empty value')
      return value as T
    },
  }
}

/** One of a list of words. */
export function choice<T extends string>(
  options: Common<T> & { readonly choices: readonly T[] },
): Setting<T> {
  const check = (value: T): void => {
    if (!options.choices.includes(value)) {
      throw new Error(`expected one of ${options.choices.join(', ')}`)
    }
  }
  return {
    kind: 'setting',
    ...options,
    parse: (raw) => {
      const value = raw.trim() as T
      check(value)
      return value
    },
    check,
  }
}

/** A flag without a value; `true`/`1`/`false`/`0` in the environment. */
export function flag(options: Common<boolean>): Setting<boolean> {
  return {
    kind: 'setting',
    ...options,
    boolean: true,
    parse: (raw) => {
      const value = raw.trim().toLowerCase()
      if (value === 'true' || value === '1' || value === '') return true
      if (value === 'false' || value === '0') return false
      throw new Error('expected true or false')
    },
  }
}

/** Anything else, with its own parser. */
export function custom<T>(
  options: Common<T> & { readonly parse: (raw: string) => T; readonly check?: (value: T) => void },
): Setting<T> {
  return { kind: 'setting', ...options }
}

/** Whether a table entry is a setting (as opposed to a nested group). */
export function isSetting(entry: Setting<unknown> | SettingsTable): entry is Setting<unknown> {
  return (entry as Setting<unknown>).kind === 'setting'
}

/** The environment variable of a flag: `heartbeat-ms` → `SEQLINE_HEARTBEAT_MS`. */
export function envNameOf(flagName: string): string {
  return `SEQLINE_${flagName.toUpperCase().replaceAll('-', '_')}`
}
