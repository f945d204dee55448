/**
 * The command line of a benchmarked `seqline serve`: `cli` on loopback (`port` 0: any free one),
 * SQLite at `dbPath`, then `extra` flags.
 *
 * @example
 * startProbedServer({ args: serveArgs(cli, join(dir, 'seqline.db'), ['--auth', 'dev']) })
 */
export function serveArgs(
  cli: string,
  dbPath: string,
  extra: readonly string[] = [],
  port = 0,
): string[] {
  return [
    cli,
    'serve',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--store',
    `sqlite:${dbPath}`,
    ...extra,
  ]
}
