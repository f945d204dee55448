import * as v from 'valibot'
import { ErrorCode } from './error-code.js'
import { parseJsonObject } from './parse-json-object.js'
import { SeqlineError } from './seqline-error.js'
import { type ClientFrame, clientFrameSchemas } from './client-frame.js'

function isClientFrameType(t: unknown): t is keyof typeof clientFrameSchemas {
  return typeof t === 'string' && Object.hasOwn(clientFrameSchemas, t)
}

/**
 * Parses and validates one client frame. Throws a `SeqlineError` with BAD_FRAME, UNKNOWN_FRAME,
 * INVALID_STREAM_NAME or INVALID_FRAME — never anything else.
 */
export function parseClientFrame(text: string): ClientFrame {
  const raw = parseJsonObject(text)
  const t = raw['t']
  if (!isClientFrameType(t)) {
    throw new SeqlineError(ErrorCode.UNKNOWN_FRAME, `unknown frame type ${JSON.stringify(t)}`)
  }
  const result = v.safeParse(clientFrameSchemas[t], raw)
  if (result.success) return result.output as ClientFrame
  const issue = result.issues[0]
  const path = v.getDotPath(issue) ?? ''
  if (path === 'stream' || path.endsWith('.stream')) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, `invalid stream name in ${t} frame`)
  }
  throw new SeqlineError(
    ErrorCode.INVALID_FRAME,
    `invalid ${t} frame: ${path === '' ? '' : `${path}: `}${issue.message}`,
  )
}
