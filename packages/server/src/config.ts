import { parseArgs } from 'node:util'
import { authorizeCallbackDefaults } from './auth/callback/authorize-callback.js'
import type { AuthOptionOrigin } from './auth/parse-auth-option.js'
import { type Limits, defaultLimits } from './engine/limits.js'
import type { LogLevel } from './observability/logger.js'
import type { RetentionPolicy } from './store/store.js'

/** Per-connection, per-client and per-user limits (DESIGN §8); the engine's `Limits`. */
export type ServerLimits = Limits

/** Everything the standalone server is configured with. */
export interface ServerConfig {
  readonly port: number
  readonly host: string
  /** `sqlite:<path>`, `memory:` or `postgres://…[?schema=name]`. */
  readonly store: string
  /**
   * Multi-node bus: `redis://…`, `postgres` (the store's database) or `postgres://…`; undefined
   * for a single node.
   */
  readonly bus: string | undefined
  /** Bus channel (deployments sharing a Redis or a database need different ones). */
  readonly busChannel: string | undefined
  /** How often a node compares the store's heads of the streams it serves with its own (bus). */
  readonly healIntervalMs: number
  /** `dev` (insecure), `jwt:file:<path>`, `jwt:<path-to-jwks.json>` or (env only) `jwt:<secret>`. */
  readonly auth: string
  /** Where `auth` came from: a secret in it is refused when it came from `argv`. */
  readonly authOrigin: AuthOptionOrigin
  /** Checks added to JWT auth. */
  readonly jwt: {
    readonly issuer?: string | undefined
    readonly audience?: string | undefined
    readonly userClaim: string
    /** Whether tokens must carry `exp` (`--jwt-require-exp false` to accept tokens without). */
    readonly requireExp: boolean
  }
  /** Path of a permissions file compiled into `authorize` (docs/backends.md). */
  readonly permissions: string | undefined
  /** The authorize callback (docs/backends.md); its secret comes from a file or the env only. */
  readonly authorizeCallback: {
    readonly url: string | undefined
    readonly secretFile: string | undefined
    readonly timeoutMs: number
    readonly maxCacheSeconds: number
  }
  /** Interval at which clients ping; silent connections are dropped after about twice this. */
  readonly heartbeatMs: number
  readonly limits: ServerLimits
  readonly retention: {
    /** Applied to streams that have no policy of their own. */
    readonly defaultPolicy: RetentionPolicy
    /** How often the retention job runs. */
    readonly intervalMs: number
  }
  /** Clients not seen for this long are removed with their cursors (DESIGN §9). */
  readonly clientTtlMs: number
  /** How often the client garbage collector runs. */
  readonly gcIntervalMs: number
  readonly logLevel: LogLevel
  /** Range of the jittered reconnect delay sent to clients when the server shuts down. */
  readonly shutdownRetryAfterMs: { readonly min: number; readonly max: number }
  /** Directory of static files to serve (a web app), if any. */
  readonly staticDir: string | undefined
  /** Browser origins allowed to open a WebSocket (`Origin` header); undefined allows any. */
  readonly allowedOrigins: readonly string[] | undefined
  /** How long a Durable Streams `live=long-poll` read waits before answering 204. */
  readonly longPollTimeoutMs: number
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Defaults of every setting. */
export const defaults: ServerConfig = deepFreeze({
  port: 8080,
  host: '0.0.0.0',
  store: 'sqlite:./data/seqline.db',
  bus: undefined,
  busChannel: undefined,
  healIntervalMs: 1_000,
  auth: 'dev',
  authOrigin: 'code',
  jwt: { issuer: undefined, audience: undefined, userClaim: 'sub', requireExp: true },
  permissions: undefined,
  authorizeCallback: {
    url: undefined,
    secretFile: undefined,
    timeoutMs: authorizeCallbackDefaults.timeoutMs,
    maxCacheSeconds: authorizeCallbackDefaults.maxCacheSeconds,
  },
  heartbeatMs: 15_000,
  limits: defaultLimits,
  retention: { defaultPolicy: { maxAgeMs: 7 * DAY_MS }, intervalMs: 60_000 },
  clientTtlMs: 30 * DAY_MS,
  gcIntervalMs: 3_600_000,
  logLevel: 'info',
  shutdownRetryAfterMs: { min: 1_000, max: 5_000 },
  staticDir: undefined,
  allowedOrigins: undefined,
  longPollTimeoutMs: 30_000,
})

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] }

/** One setting: its flag, how its value is read, and where it goes in the config. */
interface Setting {
  readonly flag: string
  readonly help: string
  /** `int`: a non-negative integer in [min, max]; `string`: non-empty text; or a list of choices. */
  readonly kind: 'int' | 'string' | readonly string[]
  readonly min?: number
  readonly max?: number
  readonly apply: (config: Mutable<ServerConfig>, value: string | number) => void
}

const MAX_MS = 10 * 365 * DAY_MS

/**
 * Every setting that can come from a flag or from the environment. The environment variable is
 * `SEQLINE_` + the flag in upper snake case (`--heartbeat-ms` → `SEQLINE_HEARTBEAT_MS`).
 */
export const settings: readonly Setting[] = [
  {
    flag: 'port',
    help: 'TCP port (0: any free port)',
    kind: 'int',
    min: 0,
    max: 65_535,
    apply: (c, v) => (c.port = v as number),
  },
  {
    flag: 'host',
    help: 'interface to listen on',
    kind: 'string',
    apply: (c, v) => (c.host = v as string),
  },
  {
    flag: 'store',
    help: 'sqlite:<path> | memory: | postgres://user@host:5432/db[?schema=name]',
    kind: 'string',
    apply: (c, v) => (c.store = v as string),
  },
  {
    flag: 'bus',
    help: "multi-node bus: redis://host:6379 | postgres (the store's database) | postgres://… (default: none, one node)",
    kind: 'string',
    apply: (c, v) => (c.bus = v as string),
  },
  {
    flag: 'bus-channel',
    help: 'bus channel name (default seqline)',
    kind: 'string',
    apply: (c, v) => (c.busChannel = v as string),
  },
  {
    flag: 'heal-interval-ms',
    help: 'how often a node checks the store for commits it was not told about (with --bus)',
    kind: 'int',
    min: 50,
    max: 600_000,
    apply: (c, v) => (c.healIntervalMs = v as number),
  },
  {
    flag: 'auth',
    help: 'dev (INSECURE) | none (NO auth) | jwt:file:<secret-file> | jwt:<path-to-jwks.json> | jwt:<secret> (env only)',
    kind: 'string',
    apply: (c, v) => (c.auth = v as string),
  },
  {
    flag: 'jwt-issuer',
    help: 'required JWT "iss"',
    kind: 'string',
    apply: (c, v) => (c.jwt.issuer = v as string),
  },
  {
    flag: 'jwt-audience',
    help: 'required JWT "aud"',
    kind: 'string',
    apply: (c, v) => (c.jwt.audience = v as string),
  },
  {
    flag: 'jwt-user-claim',
    help: 'JWT claim holding the user id',
    kind: 'string',
    apply: (c, v) => (c.jwt.userClaim = v as string),
  },
  {
    flag: 'jwt-require-exp',
    help: 'refuse JWTs without "exp" (false: accept tokens that never expire)',
    kind: ['true', 'false'],
    apply: (c, v) => (c.jwt.requireExp = v === 'true'),
  },
  {
    flag: 'permissions',
    help: 'permissions file (JSON rules on stream patterns and JWT claims); anything not granted is denied',
    kind: 'string',
    apply: (c, v) => (c.permissions = v as string),
  },
  {
    flag: 'authorize-url',
    help: "the app backend's authorize endpoint (POST, HMAC-signed; secret: --authorize-secret-file or SEQLINE_AUTHORIZE_SECRET)",
    kind: 'string',
    apply: (c, v) => (c.authorizeCallback.url = v as string),
  },
  {
    flag: 'authorize-secret-file',
    help: 'file holding the HMAC secret of the authorize callback',
    kind: 'string',
    apply: (c, v) => (c.authorizeCallback.secretFile = v as string),
  },
  {
    flag: 'authorize-timeout-ms',
    help: 'how long an authorize callback decision may take before BACKEND_UNAVAILABLE',
    kind: 'int',
    min: 50,
    max: 60_000,
    apply: (c, v) => (c.authorizeCallback.timeoutMs = v as number),
  },
  {
    flag: 'authorize-max-cache-seconds',
    help: "upper bound of the backend's Cache-Control max-age for authorize answers",
    kind: 'int',
    min: 0,
    max: 86_400,
    apply: (c, v) => (c.authorizeCallback.maxCacheSeconds = v as number),
  },
  {
    flag: 'heartbeat-ms',
    help: 'client ping interval',
    kind: 'int',
    min: 100,
    max: 600_000,
    apply: (c, v) => (c.heartbeatMs = v as number),
  },
  {
    flag: 'max-payload-bytes',
    help: 'largest payload / frame',
    kind: 'int',
    min: 1,
    max: 64 * 1024 * 1024,
    apply: (c, v) => (c.limits.maxPayloadBytes = v as number),
  },
  {
    flag: 'publish-rate',
    help: 'publishes per second per client',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    apply: (c, v) => (c.limits.publishRatePerSec = v as number),
  },
  {
    flag: 'publish-burst',
    help: 'publish burst per client',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    apply: (c, v) => (c.limits.publishBurst = v as number),
  },
  {
    flag: 'max-streams-per-connection',
    help: 'subscriptions per connection',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    apply: (c, v) => (c.limits.maxStreamsPerConnection = v as number),
  },
  {
    flag: 'max-connections-per-client',
    help: 'open connections per client id',
    kind: 'int',
    min: 1,
    max: 1_000,
    apply: (c, v) => (c.limits.maxConnectionsPerClient = v as number),
  },
  {
    flag: 'max-clients-per-user',
    help: 'registered clients per user',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    apply: (c, v) => (c.limits.maxClientsPerUser = v as number),
  },
  {
    flag: 'retention-max-age-ms',
    help: 'default retention by age (0: keep forever)',
    kind: 'int',
    min: 0,
    max: MAX_MS,
    apply: (c, v) =>
      (c.retention.defaultPolicy = {
        ...c.retention.defaultPolicy,
        maxAgeMs: v === 0 ? undefined : (v as number),
      }),
  },
  {
    flag: 'retention-max-count',
    help: 'default retention by count (0: no limit)',
    kind: 'int',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    apply: (c, v) =>
      (c.retention.defaultPolicy = {
        ...c.retention.defaultPolicy,
        maxCount: v === 0 ? undefined : (v as number),
      }),
  },
  {
    flag: 'retention-interval-ms',
    help: 'retention job period',
    kind: 'int',
    min: 100,
    max: MAX_MS,
    apply: (c, v) => (c.retention.intervalMs = v as number),
  },
  {
    flag: 'client-ttl-ms',
    help: 'forget clients unseen for this long',
    kind: 'int',
    min: 1_000,
    max: MAX_MS,
    apply: (c, v) => (c.clientTtlMs = v as number),
  },
  {
    flag: 'gc-interval-ms',
    help: 'client GC job period',
    kind: 'int',
    min: 100,
    max: MAX_MS,
    apply: (c, v) => (c.gcIntervalMs = v as number),
  },
  {
    flag: 'log-level',
    help: LOG_LEVELS.join(' | '),
    kind: LOG_LEVELS,
    apply: (c, v) => (c.logLevel = v as LogLevel),
  },
  {
    flag: 'allowed-origins',
    help: 'comma-separated browser origins allowed to connect (default: any)',
    kind: 'string',
    apply: (c, v) =>
      (c.allowedOrigins = (v as string)
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== '')),
  },
  {
    flag: 'long-poll-timeout-ms',
    help: 'how long a Durable Streams long-poll waits for data (HTTP)',
    kind: 'int',
    min: 100,
    max: 600_000,
    apply: (c, v) => (c.longPollTimeoutMs = v as number),
  },
  {
    flag: 'static-dir',
    help: 'directory of static files to serve',
    kind: 'string',
    apply: (c, v) => (c.staticDir = v as string),
  },
]

/** The environment variable of a flag: `heartbeat-ms` → `SEQLINE_HEARTBEAT_MS`. */
export function envNameOf(flag: string): string {
  return `SEQLINE_${flag.toUpperCase().replaceAll('-', '_')}`
}

/**
 * Builds the configuration from command-line flags (`argv`, without the node binary, script and
 * command) and the environment. A flag wins over its environment variable, which wins over the
 * default. An empty environment variable counts as unset. Throws an `Error` naming the flag (and
 * variable) on an unknown flag or a bad value.
 *
 * @example
 * parseConfig(['--port', '0', '--store', 'memory:'], process.env)
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: Object.fromEntries(settings.map((s) => [s.flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }).values
  } catch (cause) {
    throw new Error(`${(cause as Error).message}. Run "seqline --help" for the list of flags.`, {
      cause,
    })
  }

  const config = structuredClone(defaults) as Mutable<ServerConfig>
  for (const setting of settings) {
    const envName = envNameOf(setting.flag)
    const fromFlag = values[setting.flag]
    const fromEnv = env[envName]
    let raw: string
    let source: string
    if (typeof fromFlag === 'string') {
      raw = fromFlag
      source = `--${setting.flag}`
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw = fromEnv
      source = `${envName} (--${setting.flag})`
    } else {
      continue
    }
    setting.apply(config, parseValue(setting, raw, source))
  }
  // A JWT secret must not come from argv (see parseAuthOption): remember where `auth` came from.
  if (typeof values.auth === 'string') config.authOrigin = 'argv'
  else if (env[envNameOf('auth')] !== undefined && env[envNameOf('auth')] !== '') {
    config.authOrigin = 'env'
  }
  return deepFreeze(config)
}

function parseValue(setting: Setting, raw: string, source: string): string | number {
  const value = raw.trim()
  if (setting.kind === 'int') {
    const min = setting.min ?? 0
    const max = setting.max ?? Number.MAX_SAFE_INTEGER
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(
        `Invalid value for ${source}: "${raw}" (expected an integer from ${min} to ${max})`,
      )
    }
    return n
  }
  if (setting.kind === 'string') {
    if (value === '') throw new Error(`Invalid value for ${source}: expected a non-empty value`)
    return value
  }
  if (!setting.kind.includes(value)) {
    throw new Error(
      `Invalid value for ${source}: "${raw}" (expected one of ${setting.kind.join(', ')})`,
    )
  }
  return value
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
