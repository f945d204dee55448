import { Redis } from 'ioredis'
import { describe } from 'vitest'
import { LocalBus } from '../../packages/server/src/bus/local-bus.js'
import { PostgresBus } from '../../packages/server/src/bus/postgres-bus.js'
import { RedisBus } from '../../packages/server/src/bus/redis-bus.js'
import { runBusConformance } from '../support/bus-conformance.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  REDIS_URL,
  uniqueName,
  withClient,
} from '../support/services.js'

runBusConformance('LocalBus', async () => {
  const bus = new LocalBus()
  return { a: bus, b: bus, cleanup: async () => {} }
})

describe.skipIf(REDIS_URL === undefined)(
  `RedisBus${REDIS_URL === undefined ? ' (skipped: SEQLINE_TEST_REDIS_URL is not set)' : ''}`,
  () => {
    runBusConformance('RedisBus', async () => {
      const url = REDIS_URL ?? ''
      const channel = uniqueName('seqline_bus')
      return {
        a: new RedisBus({ url, channel }),
        b: new RedisBus({ url, channel }),
        // Kills the subscriber connections of this channel only (other suites share the Redis).
        cut: async () => {
          const admin = new Redis(url)
          try {
            const list = String(await admin.client('LIST'))
            for (const line of list.split('\n')) {
              if (!line.includes(`name=seqline-sub:${channel} `)) continue
              const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1]
              if (id !== undefined) await admin.client('KILL', 'ID', id)
            }
          } finally {
            admin.disconnect()
          }
        },
        cleanup: async () => {},
      }
    })
  },
)

describe.skipIf(POSTGRES_URL === undefined)(`PostgresBus${NEEDS_POSTGRES}`, () => {
  runBusConformance('PostgresBus', async () => {
    const url = POSTGRES_URL ?? ''
    const channel = uniqueName('seqline_bus')
    return {
      a: new PostgresBus({ connectionString: url, channel }),
      b: new PostgresBus({ connectionString: url, channel }),
      cut: () =>
        withClient(url, (c) =>
          c.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()`,
            [`seqline-bus:${channel}`],
          ),
        ).then(() => undefined),
      cleanup: async () => {},
    }
  })
})
