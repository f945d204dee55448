import { describe, expect, it } from 'vitest'
import type { ServerSettings } from './server-settings.js'
import { defaults, parseCommandLine, resolveSettings } from './resolve-settings.js'

function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerSettings {
  return resolveSettings(parseCommandLine(argv, env))
}

describe('settings from the command line and the environment', () => {
  it('returns the defaults without flags or environment', () => {
    const config = parseConfig([], {})
    expect(config).toEqual(defaults)
    expect(config.port).toBe(8080)
    expect(config.store).toBe('sqlite:./data/seqline.db')
    expect(config.auth).toBe('dev')
    expect(config.host).toBeUndefined()
    expect(config.limits.maxPayloadBytes).toBe(65_536)
    expect(config.retention.defaultPolicy).toEqual({
      maxAgeMs: 7 * 24 * 60 * 60 * 1000,
      maxCount: undefined,
    })
    expect(config.shutdown).toMatchObject({ retryAfterMinMs: 1_000, retryAfterMaxMs: 5_000 })
  })

  it('reads every kind of setting from flags', () => {
    const config = parseConfig(
      [
        '--port',
        '0',
        '--host=127.0.0.1',
        '--store',
        'memory:',
        '--auth',
        'jwt:./jwks.json',
        '--heartbeat-ms',
        '5000',
        '--max-payload-bytes',
        '1024',
        '--publish-rate',
        '10',
        '--max-streams-per-connection',
        '8',
        '--max-connections-per-client',
        '2',
        '--max-clients-per-user',
        '3',
        '--retention-max-age-ms',
        '60000',
        '--retention-max-count',
        '100',
        '--client-ttl-ms',
        '86400000',
        '--log-level',
        'debug',
        '--static-dir',
        './public',
      ],
      {},
    )
    expect(config).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      store: 'memory:',
      auth: 'jwt:./jwks.json',
      connections: { heartbeatMs: 5000 },
      limits: {
        maxPayloadBytes: 1024,
        publishRatePerSec: 10,
        publishBurst: 400,
        maxStreamsPerConnection: 8,
        maxConnectionsPerClient: 2,
        maxClientsPerUser: 3,
      },
      retention: { defaultPolicy: { maxAgeMs: 60_000, maxCount: 100 }, intervalMs: 60_000 },
      clients: { ttlMs: 86_400_000 },
      logLevel: 'debug',
      staticDir: './public',
    })
  })

  it('reads settings from SEQLINE_ environment variables', () => {
    const config = parseConfig([], {
      SEQLINE_PORT: '9000',
      SEQLINE_HOST: '::1',
      SEQLINE_STORE: 'sqlite:/tmp/x.db',
      SEQLINE_HEARTBEAT_MS: '1000',
      SEQLINE_MAX_CLIENTS_PER_USER: '5',
      SEQLINE_RETENTION_MAX_COUNT: '10',
      SEQLINE_STATIC_DIR: '/srv/www',
      SEQLINE_ALLOWED_ORIGINS: 'https://a.test, https://b.test',
    })
    expect(config.port).toBe(9000)
    expect(config.host).toBe('::1')
    expect(config.store).toBe('sqlite:/tmp/x.db')
    expect(config.connections.heartbeatMs).toBe(1000)
    expect(config.limits.maxClientsPerUser).toBe(5)
    expect(config.retention.defaultPolicy).toEqual({
      maxAgeMs: defaults.retention.defaultPolicy.maxAgeMs,
      maxCount: 10,
    })
    expect(config.staticDir).toBe('/srv/www')
    expect(config.allowedOrigins).toEqual(['https://a.test', 'https://b.test'])
  })

  it('lets a flag win over its environment variable', () => {
    const config = parseConfig(['--port', '7000', '--log-level', 'warn'], {
      SEQLINE_PORT: '9000',
      SEQLINE_LOG_LEVEL: 'error',
    })
    expect(config.port).toBe(7000)
    expect(config.logLevel).toBe('warn')
  })

  it('treats an empty environment variable as unset', () => {
    expect(parseConfig([], { SEQLINE_PORT: '' }).port).toBe(8080)
  })

  it('disables age retention with --retention-max-age-ms 0', () => {
    const config = parseConfig(['--retention-max-age-ms', '0'], {})
    expect(config.retention.defaultPolicy.maxAgeMs).toBeUndefined()
  })

  it('rejects a non-numeric port naming the flag', () => {
    expect(() => parseConfig(['--port', 'http'], {})).toThrow(/--port: "http"/)
  })

  it('rejects an out-of-range value naming the flag', () => {
    expect(() => parseConfig(['--port', '70000'], {})).toThrow(/--port.*0 to 65535/)
    expect(() => parseConfig(['--max-payload-bytes', '0'], {})).toThrow(/--max-payload-bytes/)
    expect(() => parseConfig(['--heartbeat-ms', '-5'], {})).toThrow(/--heartbeat-ms/)
    expect(() => parseConfig(['--publish-rate', '1.5'], {})).toThrow(/--publish-rate/)
  })

  it('rejects a bad environment value naming the variable and the flag', () => {
    expect(() => parseConfig([], { SEQLINE_HEARTBEAT_MS: 'soon' })).toThrow(
      /SEQLINE_HEARTBEAT_MS \(--heartbeat-ms\)/,
    )
  })

  it('rejects an unknown log level listing the accepted ones', () => {
    expect(() => parseConfig(['--log-level', 'loud'], {})).toThrow(/--log-level.*info/)
  })

  it('rejects an unknown flag', () => {
    expect(() => parseConfig(['--prot', '80'], {})).toThrow(/--prot/)
  })

  it('rejects a positional argument', () => {
    expect(() => parseConfig(['8080'], {})).toThrow(/8080/)
  })

  it('rejects a flag without its value', () => {
    expect(() => parseConfig(['--port'], {})).toThrow(/--port/)
  })

  it('reads flags without a value', () => {
    expect(parseConfig(['--dangerously-expose-insecure-auth'], {}).exposeInsecureAuth).toBe(true)
    expect(parseConfig([], { SEQLINE_JWT_REQUIRE_EXP: 'false' }).jwt.requireExp).toBe(false)
    expect(parseConfig([], {}).jwt.requireExp).toBe(true)
  })

  it('reads presence rules per stream pattern', () => {
    expect(
      parseConfig(['--presence', 'room:*=on, user:*=off,*=counts'], {}).presence.rules,
    ).toEqual([
      { streams: 'room:*', mode: 'on' },
      { streams: 'user:*', mode: 'off' },
      { streams: '*', mode: 'counts' },
    ])
    expect(() => parseConfig(['--presence', 'room:*=loud'], {})).toThrow(/--presence/)
  })

  it('checks values given to createServer with the same bounds', () => {
    expect(() => resolveSettings({ limits: { maxPayloadBytes: 0 } })).toThrow(
      /limits\.maxPayloadBytes/,
    )
    expect(resolveSettings({ port: 0 }).port).toBe(0)
  })

  it('returns a frozen config and leaves the defaults untouched', () => {
    const config = parseConfig(['--max-clients-per-user', '1'], {})
    expect(Object.isFrozen(config.limits)).toBe(true)
    expect(defaults.limits.maxClientsPerUser).toBe(64)
  })
})
