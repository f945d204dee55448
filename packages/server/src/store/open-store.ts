import { MemoryStore } from './memory-store.js'
import { isPostgresUrl, parsePostgresSpec } from '../postgres/postgres-spec.js'
import { PostgresStore } from './postgres-store.js'
import { SqliteStore } from './sqlite-store.js'
import type { Store } from './store.js'

/**
 * Opens the store named by a spec string, or initialises a `Store` given as an object, and
 * resolves once `init()` has run.
 *
 * - `sqlite:<path>`: SQLite (WAL) in that file; missing parent directories are created;
 * - `memory:`: in-process, lost at exit (tests, demos);
 * - `postgres://user@host:5432/db[?schema=name]`: PostgreSQL, shared by several nodes.
 *
 * @example
 * const store = await openStore('sqlite:./data/seqline.db')
 */
export async function openStore(spec: string | Store): Promise<Store> {
  const store = typeof spec === 'string' ? storeOf(spec) : spec
  await store.init()
  return store
}

function storeOf(spec: string): Store {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length)
    if (path === '')
      throw new Error('Store "sqlite:" needs a file path, e.g. sqlite:./data/seqline.db')
    return new SqliteStore({ path })
  }
  if (spec === 'memory:' || spec === 'memory') return new MemoryStore()
  if (isPostgresUrl(spec)) {
    // Multi-node production store; `?schema=` picks the schema (see PostgresStore).
    return new PostgresStore(parsePostgresSpec(spec))
  }
  // Echo only the scheme: a connection string may carry a password.
  const scheme = spec.includes(':') ? `"${spec.slice(0, spec.indexOf(':'))}:…"` : `"${spec}"`
  throw new Error(`Unknown store ${scheme}: expected sqlite:<path>, memory: or postgres://…`)
}
