import { ErrorCode } from './error-code.js'
import { SeqlineError } from './seqline-error.js'

/** Parses a frame's text into a plain object, or throws BAD_FRAME. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, 'frame is not valid JSON', { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SeqlineError(ErrorCode.BAD_FRAME, 'frame must be a JSON object')
  }
  return value as Record<string, unknown>
}
