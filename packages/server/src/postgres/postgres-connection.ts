import pg from 'pg'
import type { QueryResult, QueryResultRow } from 'pg'
import { quoteIdent } from './sql-identifier.js'

/** What Seqline needs of a connection: node-postgres' `Client`, `PoolClient`, `Pool` or alike. */
export interface SqlClient {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>>
}

/** How Seqline connects to PostgreSQL: the store's pool and the bus's connection alike. */
export interface PostgresConnectionOptions {
  readonly connectionString: string
  /**
   * Schema put first in every connection's `search_path`, so that no statement names it. Absent:
   * the server's `search_path` (normally `public`).
   */
  readonly schema?: string | undefined
  /** Shown in `pg_stat_activity` (PostgreSQL keeps 63 bytes). */
  readonly applicationName?: string | undefined
}

/** The node-postgres configuration of one connection. */
export function postgresClientConfig(options: PostgresConnectionOptions): pg.ClientConfig {
  const { schema, applicationName } = options
  return {
    connectionString: options.connectionString,
    ...(schema === undefined
      ? {}
      : { options: `-c search_path=${escapeOption(quoteIdent(schema))}` }),
    ...(applicationName === undefined ? {} : { application_name: applicationName.slice(0, 63) }),
  }
}

/**
 * A pool of connections configured by `postgresClientConfig`. An idle connection that the server
 * drops (restart, failover) must not crash the process: the pool replaces it and the next query
 * reports the failure to its caller.
 */
export function createPostgresPool(
  options: PostgresConnectionOptions & { readonly max: number },
): pg.Pool {
  const pool = new pg.Pool({ ...postgresClientConfig(options), max: options.max })
  pool.on('error', () => undefined)
  return pool
}

/**
 * The server splits the startup `options` at spaces unless escaped with a backslash (PostgreSQL
 * "libpq connection parameters", `options`): a schema name with a space stays one argument.
 */
function escapeOption(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll(' ', '\\ ')
}
