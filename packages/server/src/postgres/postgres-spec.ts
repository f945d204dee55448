// The PostgreSQL connection specs Seqline accepts (`--store postgres://…`, `--bus postgres://…`),
// shared by the store and the bus so that both read a spec the same way.

/** A store or bus spec split into what node-postgres understands and Seqline's own parameters. */
export interface PostgresSpec {
  /** The connection string without Seqline's parameters (node-postgres syntax). */
  readonly connectionString: string
  /** Schema of the Seqline tables (`?schema=`); absent: the connection's `search_path`. */
  readonly schema?: string
}

/** Whether a spec names a PostgreSQL database (`postgres://…` or `postgresql://…`). */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//.test(spec)
}

/**
 * Splits a spec `postgres://user@host/db?schema=name&…` into node-postgres' connection string and
 * Seqline's own `schema` parameter (which PostgreSQL would not understand).
 *
 * @example
 * parsePostgresSpec('postgres://u@h/db?schema=tenant_a&sslmode=require')
 * // { connectionString: 'postgres://u@h/db?sslmode=require', schema: 'tenant_a' }
 */
export function parsePostgresSpec(spec: string): PostgresSpec {
  const url = new URL(spec)
  const schema = url.searchParams.get('schema') ?? undefined
  url.searchParams.delete('schema')
  return schema === undefined || schema === ''
    ? { connectionString: url.href }
    : { connectionString: url.href, schema }
}
