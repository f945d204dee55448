import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  NEEDS_POSTGRES,
  POSTGRES_URL,
  type TestDatabase,
  createTestDatabase,
  withClient,
} from '../support/services.js'

// F12, producer state: every distinct HTTP `Producer-Id` used to keep a row forever. The expiry
// job (`--producer-gc-interval-ms`) deletes the states unused for `--producer-ttl-ms`, as Durable
// Streams allows (§5.2.1, "Producer State Cleanup"): within the TTL a retry is a duplicate, never
// a second copy; past it the producer is treated as new — seq 0 or a new epoch is accepted, a
// later seq is a gap. A producer that keeps publishing keeps its state.
//
// Against a real `seqline serve` process: on a SQLite file, and on PostgreSQL when
// SEQLINE_TEST_POSTGRES_URL is set. The row count is read from the store itself.

const TTL_MS = 4_000
const GC_INTERVAL_MS = 200
/** The active producer publishes this often: far inside the TTL even on a loaded machine. */
const ACTIVE_EVERY_MS = 250
const IDLE = 20
const STREAM = 'room:producers'
const TOKEN = 'writer'

interface Backend {
  /** Starts the server on this backend. */
  start(args: readonly string[]): Promise<ServerProcess>
  /** Producer state rows in the store. */
  producerRows(server: ServerProcess): Promise<number>
  dispose(): Promise<void>
}

function sqliteBackend(): Backend {
  return {
    start: (args) => startServerProcess({ args }),
    producerRows: async (server) => {
      const db = new Database(server.dbPath, { readonly: true, fileMustExist: true })
      try {
        return (db.prepare('SELECT count(*) AS n FROM producers').get() as { n: number }).n
      } finally {
        db.close()
      }
    },
    dispose: async () => {},
  }
}

function postgresBackend(url: string): Backend {
  let database: TestDatabase | undefined
  return {
    start: async (args) => {
      database = await createTestDatabase(url)
      return startServerProcess({ args, env: { SEQLINE_STORE: database.url } })
    },
    producerRows: async () => {
      const own = database?.url ?? url
      const { rows } = await withClient(own, (c) =>
        c.query<{ n: string }>('SELECT count(*) AS n FROM producers'),
      )
      return Number(rows[0]?.n)
    },
    dispose: async () => {
      await database?.drop()
    },
  }
}

interface Answer {
  readonly status: number
  readonly expectedSeq: string | null
  readonly producerSeq: string | null
}

function suite(name: string, backend: () => Backend): void {
  describe(name, () => {
    let server: ServerProcess
    let store: Backend

    beforeAll(async () => {
      store = backend()
      server = await store.start([
        '--producer-ttl-ms',
        String(TTL_MS),
        '--producer-gc-interval-ms',
        String(GC_INTERVAL_MS),
        '--publish-rate',
        '100000',
        '--publish-burst',
        '100000',
      ])
      const put = await fetch(`${server.url}/v1/stream/${STREAM}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      })
      expect(put.status).toBe(201)
    }, 60_000)

    afterAll(async () => {
      await server?.dispose()
      await store?.dispose()
    })

    async function append(producer: string, epoch: number, seq: number): Promise<Answer> {
      const res = await fetch(`${server.url}/v1/stream/${STREAM}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'producer-id': producer,
          'producer-epoch': String(epoch),
          'producer-seq': String(seq),
        },
        body: JSON.stringify(`${producer}/${epoch}/${seq}`),
      })
      await res.body?.cancel()
      return {
        status: res.status,
        expectedSeq: res.headers.get('producer-expected-seq'),
        producerSeq: res.headers.get('producer-seq'),
      }
    }

    async function head(): Promise<number> {
      const res = await fetch(`${server.url}/v1/stream/${STREAM}?offset=-1`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      return ((await res.json()) as unknown[]).length
    }

    async function expiredTotal(): Promise<number> {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      const line = /^seqline_producers_expired_total (\d+)/m.exec(text)
      return line === null ? 0 : Number(line[1])
    }

    it('expires idle producers, keeps an active one, and treats a returning one as new', async () => {
      const idle = Array.from({ length: IDLE }, (_, i) => `idle-${i}`)
      for (const producer of idle) expect((await append(producer, 0, 0)).status).toBe(200)
      expect(await store.producerRows(server)).toBe(IDLE)

      // Within the TTL a retry is recognised: nothing is written twice.
      const before = await head()
      expect(await append('idle-0', 0, 0)).toMatchObject({ status: 204, producerSeq: '0' })
      expect(await head()).toBe(before)

      // An active producer publishes all along, well inside the TTL.
      let activeSeq = 0
      expect((await append('active', 0, activeSeq)).status).toBe(200)
      let publishing = true
      const failures: Answer[] = []
      const active = (async () => {
        while (publishing) {
          await new Promise((resolve) => setTimeout(resolve, ACTIVE_EVERY_MS))
          const answer = await append('active', 0, activeSeq + 1)
          if (answer.status === 200) activeSeq += 1
          else failures.push(answer)
        }
      })()
      try {
        // The expiry job deletes the idle ones: the rows go, the metric counts them.
        await vi.waitFor(
          async () => {
            expect(await store.producerRows(server)).toBe(1)
          },
          { timeout: 60_000, interval: 200 },
        )
        expect(await expiredTotal()).toBeGreaterThanOrEqual(IDLE)
      } finally {
        publishing = false
        await active
      }
      expect(failures).toEqual([])

      // The active producer's state was kept: its last publish is still a duplicate, and its
      // sequence goes on where it was (a gap is still a gap).
      const kept = await head()
      expect(await append('active', 0, activeSeq)).toMatchObject({
        status: 204,
        producerSeq: String(activeSeq),
      })
      expect(await append('active', 0, activeSeq + 5)).toMatchObject({
        status: 409,
        expectedSeq: String(activeSeq + 1),
      })
      expect((await append('active', 0, activeSeq + 1)).status).toBe(200)
      expect(await head()).toBe(kept + 1)

      // An expired producer is a new producer (§5.2.1): a later seq is a gap expecting 0 …
      expect(await append('idle-1', 0, 7)).toMatchObject({ status: 409, expectedSeq: '0' })
      // … a new epoch starting at seq 0 is accepted …
      expect(await append('idle-2', 1, 0)).toMatchObject({ status: 200, producerSeq: '0' })
      // … and so is seq 0 of its old epoch, once: from then on its retry is a duplicate again.
      expect((await append('idle-0', 0, 0)).status).toBe(200)
      expect((await append('idle-0', 0, 0)).status).toBe(204)
      expect(await head()).toBe(kept + 3)
      expect(await store.producerRows(server)).toBe(3)
    }, 120_000)
  })
}

suite('producer state expiry on SQLite (F12)', sqliteBackend)

describe.skipIf(POSTGRES_URL === undefined)(`on PostgreSQL${NEEDS_POSTGRES}`, () => {
  suite('producer state expiry on PostgreSQL (F12)', () => postgresBackend(POSTGRES_URL ?? ''))
})
