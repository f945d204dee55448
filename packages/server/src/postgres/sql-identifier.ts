/**
 * Quotes a PostgreSQL identifier (a schema or channel name from the operator's configuration):
 * the name is used as it is, case and all, and cannot end the identifier early.
 *
 * @example
 * quoteIdent('tenant "a"') // '"tenant ""a"""'
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
