import type { Logger } from 'pino'
import type { Bus } from './bus.js'
import { isPostgresUrl, parsePostgresSpec } from '../postgres/postgres-spec.js'
import { PostgresBus } from './postgres-bus.js'
import { RedisBus } from './redis-bus.js'

/**
 * Opens the bus named by a spec string, or initialises a `Bus` given as an object; resolves once
 * it is connected. `undefined` (or `local`/`none`) means a single node: no bus.
 *
 * - `redis://…` / `rediss://…`: Redis pub/sub;
 * - `postgres`: LISTEN/NOTIFY on the store's own database (`storeUrl`), where it records its
 *   channel for `seqline_publish`;
 * - `postgres://…`: LISTEN/NOTIFY on that database.
 *
 * @example
 * const bus = await openBus('redis://127.0.0.1:6379', { logger })
 */
export async function openBus(
  spec: string | Bus | undefined,
  options: {
    readonly storeUrl?: string | undefined
    readonly channel?: string | undefined
    readonly logger?: Logger | undefined
  } = {},
): Promise<Bus | undefined> {
  const bus = typeof spec === 'string' ? busOf(spec, options) : spec
  await bus?.init()
  return bus
}

function busOf(
  spec: string,
  options: {
    readonly storeUrl?: string | undefined
    readonly channel?: string | undefined
    readonly logger?: Logger | undefined
  },
): Bus | undefined {
  const { channel, logger } = options
  if (spec === '' || spec === 'local' || spec === 'none') return undefined
  if (/^rediss?:\/\//.test(spec)) return new RedisBus({ url: spec, channel, logger })
  if (spec === 'postgres' || spec === 'postgresql') {
    if (options.storeUrl === undefined || !isPostgresUrl(options.storeUrl)) {
      throw new Error('Bus "postgres" uses the store\'s database: it needs a postgres:// store')
    }
    const { connectionString, schema } = parsePostgresSpec(options.storeUrl)
    return new PostgresBus({ connectionString, channel, logger, store: { schema } })
  }
  if (isPostgresUrl(spec)) {
    return new PostgresBus({
      connectionString: parsePostgresSpec(spec).connectionString,
      channel,
      logger,
    })
  }
  const scheme = spec.includes(':') ? `"${spec.slice(0, spec.indexOf(':'))}:…"` : `"${spec}"`
  throw new Error(`Unknown bus ${scheme}: expected redis://…, postgres, postgres://… or local`)
}
