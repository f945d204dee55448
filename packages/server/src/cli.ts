#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import type { LogLevel } from './observability/logger.js'
import { createLogger } from './observability/logger.js'
import { createServer } from './server.js'
import { envNameOf } from './settings/setting.js'
import {
  flagGivenOnCommandLine,
  parseCommandLine,
  resolveSettings,
  settingEntries,
} from './settings/resolve-settings.js'
import { type AuthOptionOrigin, parseAuthOption } from './auth/parse-auth-option.js'
import type { ServerSettingsInput } from './settings/server-settings.js'
import { openStore } from './store/open-store.js'

// `seqline serve [flags]`: the standalone server. Startup and shutdown are logged as JSON lines
// (the `listening` line carries `port`, which test harnesses and process managers read).

function usage(): string {
  const flagged = settingEntries().filter((e) => e.setting.flag !== undefined)
  const width = Math.max(...flagged.map((e) => (e.setting.flag as string).length)) + 4
  const lines = flagged.map(({ setting }) => {
    const name = setting.flag as string
    const shown = setting.shownDefault ?? defaultText(setting.default)
    return (
      `  --${name.padEnd(width)}${setting.help}${shown === '' ? '' : ` (default ${shown})`}\n` +
      `  ${' '.repeat(width + 2)}env ${envNameOf(name)}`
    )
  })
  return [
    'Usage: seqline serve [flags]',
    '       seqline migrate [--store …]   apply schema migrations and exit',
    '',
    'Runs the Seqline server: durable streams with realtime WebSocket delivery.',
    'Every flag can also be set with its environment variable; a flag wins.',
    '',
    'Flags:',
    ...lines,
    '',
    '  -h, --help            show this help',
    '  -v, --version         print the version',
    '',
  ].join('\n')
}

function defaultText(value: unknown): string {
  if (value === undefined || value === false) return ''
  if (Array.isArray(value)) return value.length === 0 ? '' : value.join(',')
  return String(value)
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string
  }
  return pkg.version ?? 'unknown'
}

async function serve(input: ServerSettingsInput, argv: readonly string[]): Promise<void> {
  const resolved = resolveSettings(input)
  const level: LogLevel = resolved.logLevel
  const logger = createLogger({ level, pretty: process.stdout.isTTY === true })
  // A JWT secret must not come from the command line, where `ps` shows it to everyone.
  const origin: AuthOptionOrigin = flagGivenOnCommandLine(argv, 'auth')
    ? 'argv'
    : (process.env.SEQLINE_AUTH ?? '') !== ''
      ? 'env'
      : 'code'
  const auth = parseAuthOption(resolved.auth, resolved.jwt, { origin })
  const server = await createServer({ ...input, auth, logger })
  const { settings } = server
  const { port } = await server.listen()
  const host = server.address?.host ?? 'localhost'
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`
  logger.info(
    {
      port,
      host,
      url,
      store: settings.store.split(':', 1)[0],
      bus: settings.bus?.split(':', 1)[0],
    },
    'seqline listening',
  )

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: the operator wants out now.
      logger.warn({ signal }, 'forced exit')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/**
 * `seqline migrate [--store …]`: brings the store's schema up to date and exits, for operators
 * who migrate before rolling out new nodes (`serve` migrates on start too; both are idempotent
 * and safe to run on several nodes at once).
 */
async function migrate(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage())
    return
  }
  const { store: spec } = resolveSettings(parseCommandLine(argv, process.env))
  const store = await openStore(spec)
  await store.close()
  process.stdout.write(`seqline: the ${spec.split(':', 1)[0]} store schema is up to date\n`)
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage())
    return
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`)
    return
  }
  if (command === 'migrate') {
    await migrate(rest)
    return
  }
  if (command !== 'serve') {
    process.stderr.write(`seqline: unknown command "${command}"\n\n${usage()}`)
    process.exitCode = 2
    return
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage())
    return
  }
  let input: ServerSettingsInput
  try {
    input = parseCommandLine(rest, process.env)
    resolveSettings(input)
  } catch (err) {
    process.stderr.write(`seqline: ${(err as Error).message}\n`)
    process.exitCode = 2
    return
  }
  await serve(input, rest)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Startup failures (port in use, unreadable store, bad JWKS) are operator errors: a clear line,
  // no stack trace unless debugging.
  let message = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.cause instanceof Error) message += `: ${err.cause.message}`
  process.stderr.write(`seqline: ${message}\n`)
  if (process.env.SEQLINE_DEBUG) console.error(err)
  process.exit(1)
})
