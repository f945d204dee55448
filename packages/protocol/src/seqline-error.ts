import { type ErrorCode, httpStatusOf } from './error-code.js'

/**
 * The one error class of Seqline. `code` is stable and machine-readable; `message` is for people.
 *
 * @example
 * if (err instanceof SeqlineError && err.code === ErrorCode.PRODUCER_FENCED) restartProducer()
 */
export class SeqlineError extends Error {
  override readonly name = 'SeqlineError'
  readonly code: ErrorCode
  /** Extra machine-readable fields that travel with the error (e.g. `expectedSeq`). */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options?.details
  }

  /** The HTTP status that goes with this error's code. */
  get status(): number {
    return httpStatusOf[this.code]
  }
}
