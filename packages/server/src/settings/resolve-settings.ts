import { parseArgs } from 'node:util'
import { type Setting, type SettingsTable, envNameOf, isSetting } from './setting.js'
import { type ServerSettings, type ServerSettingsInput, serverSettings } from './server-settings.js'

/** One declared setting with where it lives (`limits.maxPayloadBytes`). */
export interface SettingEntry {
  readonly path: readonly string[]
  readonly setting: Setting<unknown>
}

/** Every setting of a table, depth first, in declaration order. */
export function settingEntries(
  table: SettingsTable = serverSettings,
  prefix: readonly string[] = [],
): SettingEntry[] {
  return Object.entries(table).flatMap(([key, entry]) =>
    isSetting(entry)
      ? [{ path: [...prefix, key], setting: entry }]
      : settingEntries(entry, [...prefix, key]),
  )
}

/** The defaults of every setting. */
export const defaults: ServerSettings = resolveSettings({})

/**
 * Completes `input` with the defaults and checks every value given (the same bounds as on the
 * command line). Returns a frozen object; throws an `Error` naming the setting on a bad value.
 *
 * @example
 * const settings = resolveSettings({ limits: { maxPayloadBytes: 1024 } })
 */
export function resolveSettings(input: ServerSettingsInput): ServerSettings {
  const out: Record<string, unknown> = {}
  for (const { path, setting } of settingEntries()) {
    const given = read(input, path)
    // `null`: "none" for a setting whose value may be undefined.
    if (given === null && setting.default !== null) {
      write(out, path, undefined)
      continue
    }
    if (given !== undefined) {
      try {
        setting.check?.(given)
      } catch (err) {
        throw new Error(`Invalid value for ${path.join('.')}: ${(err as Error).message}`, {
          cause: err,
        })
      }
    }
    write(out, path, given === undefined ? structuredClone(setting.default) : given)
  }
  return deepFreeze(out) as unknown as ServerSettings
}

/**
 * Reads settings from command-line flags (`argv`: what follows `seqline serve`) and the
 * environment (`SEQLINE_` + the flag in upper snake case). A flag wins over its variable; an
 * empty variable counts as unset. Throws an `Error` naming the flag (and variable) on an unknown
 * flag or a bad value.
 *
 * @example
 * parseCommandLine(['--port', '0', '--store', 'memory:'], process.env)
 */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ServerSettingsInput {
  const flagged = settingEntries().filter((e) => e.setting.flag !== undefined)
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        flagged.map((e) => [
          e.setting.flag as string,
          { type: e.setting.boolean === true ? ('boolean' as const) : ('string' as const) },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values
  } catch (cause) {
    throw new Error(`${(cause as Error).message}. Run "seqline --help" for the list of flags.`, {
      cause,
    })
  }
  const input: Record<string, unknown> = {}
  for (const { path, setting } of flagged) {
    const name = setting.flag as string
    const fromFlag = values[name]
    const envName = envNameOf(name)
    const fromEnv = env[envName]
    let raw: string
    let source: string
    if (fromFlag !== undefined) {
      raw = typeof fromFlag === 'boolean' ? 'true' : fromFlag
      source = `--${name}`
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw = fromEnv
      source = `${envName} (--${name})`
    } else continue
    let value: unknown
    try {
      value = setting.parse(raw)
    } catch (err) {
      throw new Error(`Invalid value for ${source}: "${raw}" (${(err as Error).message})`, {
        cause: err,
      })
    }
    // Given, and "none": kept apart from "not given" (which means the default).
    write(input, path, value === undefined ? null : value)
  }
  return input as ServerSettingsInput
}

/** Where a flag's value came from, for checks that depend on it (secrets never on argv). */
export function flagGivenOnCommandLine(argv: readonly string[], name: string): boolean {
  return argv.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`))
}

function read(source: unknown, path: readonly string[]): unknown {
  let value = source
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

function write(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    node = (node[key] ??= {}) as Record<string, unknown>
  }
  node[path.at(-1) as string] = value
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
