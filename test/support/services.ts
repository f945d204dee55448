import { randomBytes } from 'node:crypto'
import pg from 'pg'

// The external services some suites need (PostgreSQL, Redis). `.ci/run` sets their URLs; a laptop
// without them leaves the variables unset and those suites are skipped, each with the reason in
// its name. When a variable is set, the suite runs and fails if the service is unreachable: a CI
// misconfiguration must never turn into a silent skip.

/** `SEQLINE_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`. */
export const POSTGRES_URL = nonEmpty(process.env.SEQLINE_TEST_POSTGRES_URL)
/** `SEQLINE_TEST_REDIS_URL`, e.g. `redis://127.0.0.1:6379`. */
export const REDIS_URL = nonEmpty(process.env.SEQLINE_TEST_REDIS_URL)

/** Suffix for a `describe` name explaining a skip. */
export const NEEDS_POSTGRES =
  POSTGRES_URL === undefined ? ' (skipped: SEQLINE_TEST_POSTGRES_URL is not set)' : ''
export const NEEDS_POSTGRES_AND_REDIS =
  POSTGRES_URL === undefined || REDIS_URL === undefined
    ? ' (skipped: SEQLINE_TEST_POSTGRES_URL and SEQLINE_TEST_REDIS_URL must both be set)'
    : ''

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** A name no other run uses: runs of the suites never collide in a shared database. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** A schema of the test database that one test owns. */
export interface TestSchema {
  readonly url: string
  readonly name: string
  /** Drops the schema with everything in it. */
  drop(): Promise<void>
}

/** Reserves a fresh schema name in the test database (the store creates it on `init()`). */
export function testSchema(url = requirePostgres()): TestSchema {
  const name = uniqueName('seqline_t')
  return {
    url,
    name,
    drop: async () => {
      await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`))
    },
  }
}

/** A database of its own (for processes that connect with a plain URL). */
export interface TestDatabase {
  readonly url: string
  readonly name: string
  drop(): Promise<void>
}

/** Creates a fresh database next to the test database; `drop()` removes it. */
export async function createTestDatabase(url = requirePostgres()): Promise<TestDatabase> {
  const name = uniqueName('seqline_test')
  const admin = new URL(url)
  admin.pathname = '/postgres'
  await withClient(admin.href, (c) => c.query(`CREATE DATABASE "${name}"`))
  const own = new URL(url)
  own.pathname = `/${name}`
  return {
    url: own.href,
    name,
    drop: async () => {
      await withClient(admin.href, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    },
  }
}

/** Runs `work` on a fresh connection to `url`, then closes it. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

function requirePostgres(): string {
  if (POSTGRES_URL === undefined) throw new Error('SEQLINE_TEST_POSTGRES_URL is not set')
  return POSTGRES_URL
}
