import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

/** Log levels, from the most to the least verbose, plus `silent` (tests). */
export type LogLevel = LevelWithSilent

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel | undefined
  /** Human-readable single lines instead of JSON (for a terminal). Default false. */
  readonly pretty?: boolean | undefined
  /** Where lines go. Default: stdout, written synchronously so nothing is lost at exit. */
  readonly destination?: DestinationStream | undefined
}

// Credentials must never reach the logs, whatever object a caller hands to the logger.
const REDACT_PATHS = [
  'token',
  'secret',
  'authorization',
  '*.token',
  '*.secret',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
]

/**
 * Creates the server's pino logger: JSON lines on stdout (one object per line, `msg` for the
 * text), or readable lines with `pretty`.
 *
 * @example
 * const logger = createLogger({ level: process.env.CI ? 'silent' : 'info' })
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination =
    options.destination ??
    (options.pretty ? prettyDestination(process.stdout) : pino.destination({ dest: 1, sync: true }))
  return pino(
    {
      name: 'seqline',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  )
}

// A minimal pretty printer, so that the terminal output is readable without an extra dependency:
// `12:00:01.234 INFO  seqline listening port=8080 url="http://…"`.
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
}
const OMITTED_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name'])

function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line) as Record<string, unknown>
      } catch {
        out.write(line)
        return
      }
      const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now())
      const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level)
      const fields = Object.entries(entry)
        .filter(([key]) => !OMITTED_KEYS.has(key))
        .map(
          ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
        )
      const parts = [time.toISOString().slice(11, 23), level, String(entry.msg ?? ''), ...fields]
      out.write(parts.join(' ') + '\n')
    },
  }
}
