import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'

/**
 * The error a client is told about a failure. A `SeqlineError` travels as it is; anything else is
 * INTERNAL, with its details in the logs only (no stack traces to clients).
 */
export function toSeqlineError(err: unknown, logger: Logger, connection: string): SeqlineError {
  if (err instanceof SeqlineError) return err
  logger.error({ err, connection }, 'frame handling failed')
  return new SeqlineError(ErrorCode.INTERNAL, 'internal error', { cause: err })
}
