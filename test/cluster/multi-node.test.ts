import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HoppingPublisher, HoppingSubscriber, seededRandom } from '../support/cluster-scenario.js'
import { ensureRedisUp, stopRedis } from '../support/redis-server.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  NEEDS_POSTGRES_AND_REDIS,
  POSTGRES_URL,
  REDIS_URL,
  type TestDatabase,
  createTestDatabase,
  withClient,
} from '../support/services.js'

// Three Seqline processes share one PostgreSQL database and a bus (Redis, then PostgreSQL
// LISTEN/NOTIFY). Publishers on every node write to the same streams; subscribers hop between
// random nodes; mid-run one node is kill -9'ed and restarted and the bus is cut (Redis restarted,
// or the LISTEN connections terminated). Every subscriber must see every message exactly once, in
// order (G1, G2, G4), with no sticky sessions.

const SEEDS = [1, 2, 3]
const NODES = 3
const STREAMS = 3
const PUBLISHERS = 3
const SUBSCRIBERS = 6
const MESSAGES_PER_STREAM_PER_PUBLISHER = 100

type BusKind = 'redis' | 'postgres'

describe.skipIf(POSTGRES_URL === undefined || REDIS_URL === undefined)(
  `Seqline cluster${NEEDS_POSTGRES_AND_REDIS}`,
  () => {
    for (const bus of ['redis', 'postgres'] as const) {
      describe(`3 nodes on PostgreSQL with the ${bus} bus`, () => {
        let db: TestDatabase
        const nodes: ServerProcess[] = []

        beforeAll(async () => {
          await ensureRedisUp()
          db = await createTestDatabase()
          const args = [
            '--store',
            db.url,
            '--bus',
            bus === 'redis' ? (REDIS_URL ?? '') : 'postgres',
            '--bus-channel',
            db.name,
            '--heal-interval-ms',
            '300',
            '--heartbeat-ms',
            '60000',
            '--auth',
            'dev',
          ]
          // Started one after the other: the first one migrates, the others find the schema.
          for (let i = 0; i < NODES; i++) nodes.push(await startServerProcess({ args }))
        })

        afterAll(async () => {
          // Whatever happened, Redis is left running for the next suite.
          await ensureRedisUp()
          await Promise.all(nodes.map((n) => n.dispose()))
          await db?.drop()
        })

        for (const seed of SEEDS) {
          it(`delivers every message exactly once, in order, through a node crash and a bus outage (seed ${seed})`, async () => {
            const report = await runScenario(seed, bus, nodes, db)
            expect(report.problems).toEqual([])
          }, 90_000)
        }
      })
    }
  },
)

interface ScenarioReport {
  readonly problems: string[]
}

async function runScenario(
  seed: number,
  bus: BusKind,
  nodes: ServerProcess[],
  db: TestDatabase,
): Promise<ScenarioReport> {
  const random = seededRandom(seed)
  const streams = Array.from({ length: STREAMS }, (_, i) => `room:${bus}-${seed}-${i}`)
  let down: ServerProcess | undefined
  // A node being restarted is not offered to new connections (a load balancer's health check).
  const urls = (): string[] => nodes.filter((n) => n !== down).map((n) => n.wsUrl)

  const subscribers = Array.from(
    { length: SUBSCRIBERS },
    (_, i) =>
      new HoppingSubscriber(`sub-${seed}-${i}`, streams, urls, seededRandom(seed * 100 + i), {
        min: 300,
        max: 1_500,
      }),
  )
  // Let every subscriber attach before the first publish (it still must not matter).
  await delay(300)
  const publishers = Array.from(
    { length: PUBLISHERS },
    (_, i) =>
      new HoppingPublisher(
        i,
        streams,
        MESSAGES_PER_STREAM_PER_PUBLISHER,
        urls,
        seededRandom(seed * 1_000 + i),
        // Paced so that publishing spans the whole chaos sequence (about 4–5 s).
        { window: 8, hopEveryMs: 1_500, pauseMs: 50 },
      ),
  )

  const problems: string[] = []
  const started = Date.now()
  const phases: string[] = []
  const mark = (phase: string): void => {
    phases.push(`${phase} ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }
  void Promise.all(publishers.map((p) => p.finished())).then(() => mark('published'))
  try {
    // Chaos, at seeded moments: kill -9 one node and restart it; cut the bus.
    await delay(600 + random() * 600)
    const victim = nodes[Math.floor(random() * nodes.length)] as ServerProcess
    down = victim
    await victim.kill9()
    mark('killed')
    await delay(300 + random() * 500)
    await victim.restart()
    down = undefined
    mark('restarted')

    await delay(300 + random() * 400)
    if (bus === 'redis') {
      await stopRedis()
      await delay(400 + random() * 400)
      await ensureRedisUp()
      mark('redis restarted')
    } else {
      // The PostgreSQL bus's LISTEN connections die (a failover, a proxy timeout).
      const cut = await withClient(db.url, (c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = $1 AND application_name = $2`,
          [db.name, `seqline-bus:${db.name}`],
        ),
      )
      mark(`LISTEN cut (${cut.rowCount} connections)`)
    }

    await Promise.race([
      Promise.all(publishers.map((p) => p.finished())),
      delay(40_000).then(() => {
        throw new Error('publishers did not finish within 40 s')
      }),
    ])

    // Settle: no more voluntary hops, every subscriber must reach every head.
    for (const s of subscribers) s.hopping = false
    const heads = await withClient(db.url, async (c) => {
      const { rows } = await c.query<{ name: string; head: string }>(
        'SELECT name, head FROM streams WHERE name = ANY($1::text[])',
        [streams],
      )
      return new Map(rows.map((r) => [r.name, Number(r.head)]))
    })
    const expected = PUBLISHERS * MESSAGES_PER_STREAM_PER_PUBLISHER
    for (const stream of streams) {
      if (heads.get(stream) !== expected) {
        problems.push(
          `${stream}: head ${heads.get(stream)}, expected ${expected} (log duplicates or losses)`,
        )
      }
    }
    const deadline = Date.now() + 20_000
    while (
      Date.now() < deadline &&
      !subscribers.every((s) => streams.every((st) => (s.tallies.get(st)?.last ?? 0) >= expected))
    ) {
      await delay(100)
    }
    mark('settled')

    for (const p of publishers) {
      if (p.nacks.length > 0)
        problems.push(`publisher ${p.index} nacks: ${p.nacks.slice(0, 3).join(' ')}`)
    }
    subscribers.forEach((s, i) => {
      for (const stream of streams) {
        const t = s.tallies.get(stream)
        if (t === undefined) continue
        const lost = expected - t.delivered
        if (lost !== 0 || t.duplicated !== 0 || t.outOfOrder !== 0 || t.resets !== 0) {
          problems.push(
            `subscriber ${i} ${stream}: lost ${lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, resets ${t.resets}`,
          )
        }
        // Each publisher's messages in its own seq order, each exactly once.
        const seen = new Set(t.payloads)
        if (seen.size !== t.payloads.length)
          problems.push(`subscriber ${i} ${stream}: repeated payloads`)
        for (let p = 0; p < PUBLISHERS; p++) {
          const seqs = t.payloads
            .filter((x) => x.startsWith(`${p}:`))
            .map((x) => Number(x.split(':')[1]))
          if (seqs.some((seq, k) => seq !== k)) {
            problems.push(`subscriber ${i} ${stream}: publisher ${p} out of seq order`)
          }
        }
      }
    })
    const hops = subscribers.reduce((n, s) => n + s.connections, 0)
    console.info(
      `[cluster ${bus} seed ${seed}] ${expected * STREAMS} messages × ${SUBSCRIBERS} subscribers, ${hops} subscriber connections, ${publishers.reduce((n, p) => n + p.connections, 0)} publisher connections, ${publishers.reduce((n, p) => n + p.duplicates, 0)} deduplicated retries, problems: ${problems.length} (${phases.join(', ')})`,
    )
  } finally {
    await Promise.all([...publishers.map((p) => p.stop()), ...subscribers.map((s) => s.stop())])
  }
  return { problems }
}
