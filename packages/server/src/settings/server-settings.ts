import type { LogLevel } from '../observability/logger.js'
import { type PresenceRule, parsePresenceRules } from '../engine/presence/presence-rules.js'
import {
  type RetentionRule,
  checkRetentionRules,
  parseRetentionRules,
} from '../engine/retention-rules.js'
import {
  MAX_MS,
  type PartialSettings,
  type SettingsOf,
  choice,
  custom,
  flag,
  int,
  optionalInt,
  text,
} from './setting.js'

const DAY_MS = 24 * 60 * 60 * 1000
const KIB = 1024
const MIB = 1024 * 1024

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/**
 * Every setting of the server, declared once (see setting.ts): the CLI flags and `SEQLINE_*`
 * environment variables, `seqline --help`, `createServer`'s defaults and the type every component
 * receives its settings in all come from this table. docs/operations.md explains them in prose.
 */
export const serverSettings = {
  port: int({
    flag: 'port',
    default: 8080,
    min: 0,
    max: 65_535,
    help: 'TCP port (0: any free port)',
  }),
  host: text<string | undefined>({
    flag: 'host',
    default: undefined,
    shownDefault: '127.0.0.1 with dev/none auth, else 0.0.0.0',
    help: 'interface to listen on',
  }),
  exposeInsecureAuth: flag({
    flag: 'dangerously-expose-insecure-auth',
    default: false,
    help: 'let dev/none auth listen beyond loopback: anyone who reaches the port is anyone',
  }),
  store: text<string>({
    flag: 'store',
    default: 'sqlite:./data/seqline.db',
    help: 'sqlite:<path> | memory: | postgres://user@host:5432/db[?schema=name]',
  }),
  bus: text<string | undefined>({
    flag: 'bus',
    default: undefined,
    help: "multi-node bus: redis://host:6379 | postgres (the store's database) | postgres://… (default: none, one node)",
  }),
  busChannel: text<string | undefined>({
    flag: 'bus-channel',
    default: undefined,
    shownDefault: 'seqline',
    help: 'bus channel name',
  }),
  auth: text<string>({
    flag: 'auth',
    default: 'dev',
    help: 'dev (INSECURE) | none (NO auth) | jwt:file:<secret-file> | jwt:<path-to-jwks.json> (a secret only from SEQLINE_AUTH)',
  }),
  jwt: {
    issuer: text<string | undefined>({
      flag: 'jwt-issuer',
      default: undefined,
      help: 'required JWT "iss"',
    }),
    audience: text<string | undefined>({
      flag: 'jwt-audience',
      default: undefined,
      help: 'required JWT "aud"',
    }),
    userClaim: text<string>({
      flag: 'jwt-user-claim',
      default: 'sub',
      help: 'JWT claim holding the user id',
    }),
    requireExp: custom<boolean>({
      flag: 'jwt-require-exp',
      default: true,
      help: 'refuse JWTs without "exp" (false: accept tokens that never expire)',
      parse: (raw) => {
        const value = raw.trim()
        if (value !== 'true' && value !== 'false') throw new Error('expected true or false')
        return value === 'true'
      },
    }),
  },
  permissions: text<string | undefined>({
    flag: 'permissions',
    default: undefined,
    help: 'permissions file (JSON): who may read, publish, manage which streams; anything not granted is denied',
  }),
  authorizeCallback: {
    url: text<string | undefined>({
      flag: 'authorize-url',
      default: undefined,
      help: "the app backend's authorize endpoint (POST, HMAC-signed; secret: --authorize-secret-file or SEQLINE_AUTHORIZE_SECRET)",
    }),
    secretFile: text<string | undefined>({
      flag: 'authorize-secret-file',
      default: undefined,
      help: 'file holding the HMAC secret of the authorize callback',
    }),
    timeoutMs: int({
      flag: 'authorize-timeout-ms',
      default: 2_000,
      min: 50,
      max: 60_000,
      help: 'how long an authorize callback decision may take before BACKEND_UNAVAILABLE',
    }),
    maxCacheSeconds: int({
      flag: 'authorize-max-cache-seconds',
      default: 300,
      max: 86_400,
      help: "upper bound of the backend's Cache-Control max-age for authorize answers",
    }),
  },
  authorizeCacheMs: int({
    flag: 'authorize-cache-ms',
    default: 1_000,
    max: 3_600_000,
    help: 'how long a publish/signal authorization answer is reused per user and stream',
  }),
  apiKeysFile: text<string | undefined>({
    flag: 'api-keys-file',
    default: undefined,
    help: 'API keys of the backend HTTP API (/v1/api/…), one per line or JSON with ids; or the keys themselves in SEQLINE_API_KEYS',
  }),
  webhooks: {
    url: text<string | undefined>({
      flag: 'webhook-url',
      default: undefined,
      help: "the app backend's webhook receiver (POST, HMAC-signed; secret: --webhook-secret-file or SEQLINE_WEBHOOK_SECRET)",
    }),
    secretFile: text<string | undefined>({
      flag: 'webhook-secret-file',
      default: undefined,
      help: 'file holding the HMAC secret webhook deliveries are signed with',
    }),
    unreadDelayMs: int({
      flag: 'webhook-unread-delay-ms',
      default: 60_000,
      min: 100,
      max: DAY_MS,
      help: 'how long a user is offline with an unacknowledged message before the "unread" webhook',
    }),
    leaseTtlMs: int({
      flag: 'webhook-lease-ttl-ms',
      default: 15_000,
      min: 300,
      max: 600_000,
      help: 'one node delivers webhooks and detects "unread": the others take over this long after it stops renewing',
    }),
    concurrency: int({
      flag: 'webhook-concurrency',
      default: 8,
      min: 1,
      max: 1_000,
      help: 'webhook events being delivered (or waiting for a retry) at once',
    }),
    timeoutMs: int({
      flag: 'webhook-timeout-ms',
      default: 10_000,
      min: 100,
      max: 600_000,
      help: 'how long one webhook delivery attempt may take',
    }),
    retryInitialDelayMs: int({
      default: 1_000,
      min: 1,
      max: 600_000,
      help: 'ceiling of the first webhook retry delay (it doubles with every attempt)',
    }),
    retryMaxDelayMs: int({
      flag: 'webhook-retry-max-delay-ms',
      default: 5 * 60_000,
      min: 1,
      max: DAY_MS,
      help: 'longest delay between two attempts of one webhook event',
    }),
    maxAgeMs: int({
      flag: 'webhook-max-age-ms',
      default: DAY_MS,
      min: 1_000,
      max: 30 * DAY_MS,
      help: 'a webhook event still undelivered this long after it happened is given up (logged, counted)',
    }),
  },
  logLevel: choice<LogLevel>({
    flag: 'log-level',
    default: 'info',
    choices: LOG_LEVELS,
    help: LOG_LEVELS.join(' | '),
  }),
  staticDir: text<string | undefined>({
    flag: 'static-dir',
    default: undefined,
    help: 'directory of static files to serve',
  }),
  allowedOrigins: custom<readonly string[] | undefined>({
    flag: 'allowed-origins',
    default: undefined,
    shownDefault: 'any',
    help: 'comma-separated browser origins allowed to connect',
    parse: list,
  }),
  metrics: {
    port: optionalInt({
      flag: 'metrics-port',
      default: undefined,
      max: 65_535,
      shownDefault: 'on the main port',
      help: 'serve /metrics on this port only (0 or unset: on the main port)',
    }),
    host: text<string>({
      flag: 'metrics-host',
      default: '127.0.0.1',
      help: 'interface of --metrics-port',
    }),
  },
  limits: {
    maxPayloadBytes: int({
      flag: 'max-payload-bytes',
      default: 64 * KIB,
      min: 1,
      max: 64 * MIB,
      help: 'largest message payload',
    }),
    maxJsonDepth: int({
      flag: 'max-json-depth',
      default: 64,
      min: 1,
      max: 1_000,
      help: 'deepest nesting of arrays and objects in a JSON payload',
    }),
    publishRatePerSec: int({
      flag: 'publish-rate',
      default: 200,
      min: 1,
      max: 1_000_000,
      help: 'messages per second per client (WebSocket and HTTP)',
    }),
    publishBurst: int({
      flag: 'publish-burst',
      default: 400,
      min: 1,
      max: 1_000_000,
      help: 'message burst per client',
    }),
    signalRatePerSec: int({
      flag: 'signal-rate',
      default: 20,
      min: 1,
      max: 1_000_000,
      help: 'signals per second per client',
    }),
    signalBurst: int({
      flag: 'signal-burst',
      default: 40,
      min: 1,
      max: 1_000_000,
      help: 'signal burst per client',
    }),
    maxStreamsPerConnection: int({
      flag: 'max-streams-per-connection',
      default: 256,
      min: 1,
      max: 1_000_000,
      help: 'subscriptions per connection',
    }),
    maxConnectionsPerClient: int({
      flag: 'max-connections-per-client',
      default: 1,
      min: 1,
      max: 1_000,
      help: 'open connections per client id',
    }),
    maxClientsPerUser: int({
      flag: 'max-clients-per-user',
      default: 64,
      min: 1,
      max: 1_000_000,
      help: 'registered clients per user',
    }),
    maxProducerIdBytes: int({
      flag: 'max-producer-id-bytes',
      default: 256,
      min: 16,
      max: 4_096,
      help: 'longest HTTP Producer-Id',
    }),
  },
  connections: {
    heartbeatMs: int({
      flag: 'heartbeat-ms',
      default: 15_000,
      min: 100,
      max: 600_000,
      help: 'client ping interval; silent connections are dropped after about twice this',
    }),
    helloTimeoutMs: int({
      flag: 'hello-timeout-ms',
      default: 10_000,
      min: 100,
      max: 600_000,
      help: 'a connection that has not said hello by then is closed',
    }),
    authGraceMs: int({
      flag: 'auth-grace-ms',
      default: 10_000,
      min: 0,
      max: 600_000,
      help: 'time an open connection has to send a fresh token once its token expired',
    }),
    maxConnections: int({
      flag: 'max-connections',
      default: 100_000,
      min: 1,
      max: 10_000_000,
      help: 'open connections (WebSocket and HTTP sessions) per node',
    }),
    maxConnectionsPerAddress: int({
      flag: 'max-connections-per-address',
      default: 10_000,
      min: 1,
      max: 10_000_000,
      help: 'open connections per remote IP address (raise it behind a NAT or proxy)',
    }),
    maxPendingHellos: int({
      flag: 'max-pending-hellos',
      default: 1_000,
      min: 1,
      max: 1_000_000,
      help: 'connections being admitted at once; beyond, upgrades get 503 + Retry-After',
    }),
    keepAliveTimeoutMs: int({
      flag: 'keep-alive-timeout-ms',
      default: 5_000,
      min: 100,
      max: 600_000,
      help: "an idle HTTP keep-alive connection is closed after this long (above a proxy's own)",
    }),
    maxBufferedBytes: int({
      flag: 'max-buffered-bytes',
      default: 8 * MIB,
      min: 64 * KIB,
      max: 1024 * MIB,
      help: 'unread bytes queued for one connection above which it is cut (SLOW_CONSUMER)',
    }),
    maxInboundFrames: int({
      flag: 'max-inbound-frames',
      default: 64,
      min: 1,
      max: 100_000,
      help: 'frames of one connection queued for handling before the server stops reading it',
    }),
  },
  delivery: {
    highWaterMark: int({
      flag: 'high-water-mark',
      default: MIB,
      min: 1,
      max: 1024 * MIB,
      help: 'bytes queued per connection above which delivery pauses until it drains',
    }),
    pageSize: int({ default: 512, min: 1, max: 100_000, help: 'messages read per catch-up query' }),
    pageBytes: int({
      flag: 'catch-up-page-bytes',
      default: MIB,
      min: 1,
      max: 1024 * MIB,
      help: 'payload bytes read per catch-up query (a larger message is read alone)',
    }),
    windowBytes: int({
      default: 4 * MIB,
      min: 0,
      max: 4096 * MIB,
      help: 'recent messages kept per followed stream for live fan-out',
    }),
  },
  presence: {
    rules: custom<readonly PresenceRule[]>({
      flag: 'presence',
      default: [],
      shownDefault: '*=on',
      help: 'presence per stream pattern, first match wins: e.g. "room:*=on,user:*=off,*=counts"',
      parse: parsePresenceRules,
    }),
    intervalMs: int({
      flag: 'presence-interval-ms',
      default: 500,
      min: 0,
      max: 60_000,
      help: 'presence changes are sent at most once per this interval',
    }),
    snapshotUsers: int({
      flag: 'presence-snapshot-users',
      default: 100,
      min: 0,
      max: 100_000,
      help: 'users listed in a presence snapshot (the count covers all)',
    }),
  },
  retention: {
    defaultPolicy: {
      maxAgeMs: optionalInt({
        flag: 'retention-max-age-ms',
        default: 7 * DAY_MS,
        max: MAX_MS,
        help: 'default retention by age (0: keep forever)',
      }),
      maxCount: optionalInt({
        flag: 'retention-max-count',
        default: undefined,
        help: 'default retention by count (0: no limit)',
      }),
    },
    rules: custom<readonly RetentionRule[]>({
      flag: 'retention-rules',
      default: [],
      shownDefault: 'none',
      help: 'retention per stream pattern over the defaults, first match wins, 0: no such limit: e.g. "user:*=until-acked,max-age-ms=604800000;log:*=max-count=100000"',
      parse: parseRetentionRules,
      check: checkRetentionRules,
    }),
    intervalMs: int({
      flag: 'retention-interval-ms',
      default: 60_000,
      min: 100,
      max: MAX_MS,
      help: 'retention job period',
    }),
  },
  clients: {
    ttlMs: int({
      flag: 'client-ttl-ms',
      default: 30 * DAY_MS,
      min: 1_000,
      max: MAX_MS,
      help: 'forget clients unseen for this long',
    }),
    gcIntervalMs: int({
      flag: 'gc-interval-ms',
      default: 3_600_000,
      min: 100,
      max: MAX_MS,
      help: 'client GC job period',
    }),
    forgetGraceMs: int({
      flag: 'forget-grace-ms',
      default: 10_000,
      min: 1_000,
      max: DAY_MS,
      help: 'a client whose tab closed for good is forgotten once unseen this long (a reload within it keeps it)',
    }),
    countIntervalMs: int({
      flag: 'client-count-interval-ms',
      default: 60_000,
      min: 100,
      max: MAX_MS,
      help: 'how often the clients are counted by state for the seqline_clients metric (a scan of the clients)',
    }),
  },
  producers: {
    ttlMs: int({
      flag: 'producer-ttl-ms',
      default: 7 * DAY_MS,
      min: 1_000,
      max: MAX_MS,
      help: 'forget producer state (idempotency) unused for this long',
    }),
    gcIntervalMs: int({
      flag: 'producer-gc-interval-ms',
      default: 3_600_000,
      min: 100,
      max: MAX_MS,
      help: 'producer state expiry job period (a scan of the producer states: keep it rare)',
    }),
  },
  cursors: {
    flushMs: int({ default: 250, min: 1, max: 60_000, help: 'how often batched acks are written' }),
  },
  expiry: {
    intervalMs: int({
      default: 1_000,
      min: 10,
      max: MAX_MS,
      help: 'how often streams past their TTL or expiry are deleted',
    }),
  },
  durableStreams: {
    longPollTimeoutMs: int({
      flag: 'long-poll-timeout-ms',
      default: 30_000,
      min: 100,
      max: 600_000,
      help: 'how long a long-poll waits for data (HTTP)',
    }),
    sseCloseAfterMs: int({
      default: 60_000,
      min: 100,
      max: 3_600_000,
      help: 'an SSE response is ended after this long (clients reconnect through their proxies)',
    }),
    readChunkBytes: int({
      default: 4 * MIB,
      min: 1,
      max: 1024 * MIB,
      help: 'bytes per read chunk',
    }),
    readChunkMessages: int({
      default: 10_000,
      min: 1,
      max: 1_000_000,
      help: 'messages per read chunk',
    }),
    chunkCacheBytes: int({
      default: 32 * MIB,
      min: 0,
      max: 4096 * MIB,
      help: 'recently read chunks kept for repeated catch-up reads',
    }),
    maxBodyBytes: optionalInt({
      default: undefined,
      shownDefault: '--max-payload-bytes',
      help: 'largest Durable Streams request body',
    }),
    cursorIntervalSeconds: int({
      default: 20,
      min: 1,
      max: 3_600,
      help: 'Durable Streams cursor interval (§10.1)',
    }),
  },
  sessions: {
    idleMs: int({
      flag: 'session-idle-ms',
      default: 45_000,
      min: 1_000,
      max: 3_600_000,
      help: 'an HTTP session no request touched for this long is over',
    }),
    keepAliveMs: int({
      default: 15_000,
      min: 100,
      max: 600_000,
      help: 'keep-alive comment interval of an idle session event stream',
    }),
    sseCloseAfterMs: int({
      default: 60_000,
      min: 100,
      max: 3_600_000,
      help: 'a session event stream is ended after this long; the client reads on',
    }),
    longPollTimeoutMs: int({
      default: 25_000,
      min: 100,
      max: 600_000,
      help: 'a session long-poll answers empty after this long',
    }),
    maxPollBytes: int({
      default: 1024 * KIB,
      min: 1 * KIB,
      max: 64 * MIB,
      help: 'most bytes of frames in one session long-poll answer',
    }),
    maxFramesPerBatch: int({
      default: 1_000,
      min: 1,
      max: 100_000,
      help: 'most frames in one POST of a session',
    }),
  },
  cluster: {
    nodeId: text<string | undefined>({
      default: undefined,
      shownDefault: 'random',
      help: "this node's id on the bus",
    }),
    healIntervalMs: int({
      flag: 'heal-interval-ms',
      default: 1_000,
      min: 50,
      max: 600_000,
      help: 'how often a node checks the store for commits it was not told about (with --bus)',
    }),
    presenceHeartbeatMs: int({
      default: 5_000,
      min: 50,
      max: 600_000,
      help: "how often a node sends its whole presence (a node's presence expires after 3)",
    }),
    fetchLimit: int({
      default: 512,
      min: 1,
      max: 100_000,
      help: 'messages fetched per announcement of another node',
    }),
  },
  shutdown: {
    retryAfterMinMs: int({
      default: 1_000,
      max: 600_000,
      help: 'smallest reconnect delay hinted to clients on shutdown',
    }),
    retryAfterMaxMs: int({
      default: 5_000,
      max: 600_000,
      help: 'largest reconnect delay hinted to clients on shutdown',
    }),
    drainMs: int({
      default: 2_000,
      max: 600_000,
      help: 'how long in-flight HTTP requests may run once shutdown began',
    }),
  },
} as const

/** The server's resolved settings: every component receives its part of this. */
export type ServerSettings = SettingsOf<typeof serverSettings>

/** Settings as given to `createServer`: anything left out takes its default. */
export type ServerSettingsInput = PartialSettings<typeof serverSettings>
