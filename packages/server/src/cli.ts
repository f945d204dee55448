#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { readAuthorizeSecret } from './auth/authorize-option.js'
import { parseAuthOption } from './auth/parse-auth-option.js'
import { type ServerConfig, defaults, envNameOf, parseConfig, settings } from './config.js'
import { createLogger } from './observability/logger.js'
import { createServer } from './server.js'
import { openStore } from './store/open-store.js'

// `seqline serve [flags]`: the standalone server. Startup and shutdown are logged as JSON lines
// (the `listening` line carries `port`, which test harnesses and process managers read).

function usage(): string {
  const width = Math.max(...settings.map((s) => s.flag.length)) + 4
  const lines = settings.map((s) => {
    const fallback = defaultText(s.flag)
    return `  --${s.flag.padEnd(width)}${s.help}${fallback === '' ? '' : ` (default ${fallback})`}\n  ${' '.repeat(width + 2)}env ${envNameOf(s.flag)}`
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

function defaultText(flag: string): string {
  const known: Record<string, unknown> = {
    port: defaults.port,
    host: defaults.host,
    store: defaults.store,
    auth: defaults.auth,
    'jwt-user-claim': defaults.jwt.userClaim,
    'jwt-require-exp': defaults.jwt.requireExp,
    'authorize-timeout-ms': defaults.authorizeCallback.timeoutMs,
    'authorize-max-cache-seconds': defaults.authorizeCallback.maxCacheSeconds,
    'heartbeat-ms': defaults.heartbeatMs,
    'max-payload-bytes': defaults.limits.maxPayloadBytes,
    'publish-rate': defaults.limits.publishRatePerSec,
    'publish-burst': defaults.limits.publishBurst,
    'max-streams-per-connection': defaults.limits.maxStreamsPerConnection,
    'max-connections-per-client': defaults.limits.maxConnectionsPerClient,
    'max-clients-per-user': defaults.limits.maxClientsPerUser,
    'retention-max-age-ms': defaults.retention.defaultPolicy.maxAgeMs,
    'retention-interval-ms': defaults.retention.intervalMs,
    'client-ttl-ms': defaults.clientTtlMs,
    'gc-interval-ms': defaults.gcIntervalMs,
    'log-level': defaults.logLevel,
    'long-poll-timeout-ms': defaults.longPollTimeoutMs,
    'heal-interval-ms': defaults.healIntervalMs,
  }
  const value = known[flag]
  return value === undefined ? '' : String(value)
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string
  }
  return pkg.version ?? 'unknown'
}

async function serve(config: ServerConfig): Promise<void> {
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true })
  const server = await createServer({
    store: config.store,
    auth: parseAuthOption(config.auth, config.jwt, { origin: config.authOrigin }),
    permissions: config.permissions,
    authorizeCallback:
      config.authorizeCallback.url === undefined
        ? undefined
        : {
            url: config.authorizeCallback.url,
            secret: readAuthorizeSecret(config.authorizeCallback.secretFile, process.env),
            timeoutMs: config.authorizeCallback.timeoutMs,
            maxCacheSeconds: config.authorizeCallback.maxCacheSeconds,
          },
    logger,
    limits: config.limits,
    heartbeatMs: config.heartbeatMs,
    retention: config.retention,
    clientTtlMs: config.clientTtlMs,
    gcIntervalMs: config.gcIntervalMs,
    allowedOrigins: config.allowedOrigins,
    staticDir: config.staticDir,
    shutdownRetryAfterMs: config.shutdownRetryAfterMs,
    durableStreams: { longPollTimeoutMs: config.longPollTimeoutMs },
    bus: config.bus,
    busChannel: config.busChannel,
    cluster: { healIntervalMs: config.healIntervalMs },
  })
  const { port } = await server.listen(config.port, config.host)
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`
  logger.info(
    {
      port,
      host: config.host,
      url,
      store: config.store.split(':', 1)[0],
      bus: config.bus?.split(':', 1)[0],
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
  const config = parseConfig(argv, process.env)
  const store = await openStore(config.store)
  await store.close()
  process.stdout.write(`seqline: the ${config.store.split(':', 1)[0]} store schema is up to date\n`)
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
  let config: ServerConfig
  try {
    config = parseConfig(rest, process.env)
  } catch (err) {
    process.stderr.write(`seqline: ${(err as Error).message}\n`)
    process.exitCode = 2
    return
  }
  await serve(config)
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
