import { spawn } from 'node:child_process'

/** What one run of `psql` printed, and how it exited. */
export interface PsqlResult {
  /** Query results, one row per line, columns separated by `|` (unaligned, tuples only). */
  readonly stdout: string
  /** Errors in verbose form: `ERROR:  <SQLSTATE>: <message>`. */
  readonly stderr: string
  readonly code: number | null
}

/**
 * Runs a SQL script through the real `psql` binary (as an operator or a shell script would), on
 * its own connection: no psqlrc, stop at the first error, errors with their SQLSTATE.
 *
 * @example
 * const { stdout } = await runPsql(url, "BEGIN; SELECT seqline_publish('room:a', '1'); COMMIT;")
 */
export function runPsql(url: string, script: string): Promise<PsqlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'psql',
      [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-f', '-'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({ stdout, stderr, code }))
    child.stdin.end(script)
  })
}
