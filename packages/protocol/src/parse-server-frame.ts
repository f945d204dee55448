import { ErrorCode } from './error-code.js'
import { parseJsonObject } from './parse-json-object.js'
import { SeqlineError } from './seqline-error.js'
import type { ServerFrame, ServerFrameType } from './server-frame.js'

const serverFrameTypes: ReadonlySet<ServerFrameType> = new Set<ServerFrameType>([
  'welcome',
  'msg',
  'caughtUp',
  'reset',
  'puback',
  'nack',
  'signal',
  'presence',
  'presenceDiff',
  'authOk',
  'error',
  'pong',
  'goaway',
])

/**
 * Parses one server frame on the client side. Checks the envelope only (object with a known `t`):
 * the server is trusted for the rest, and the client stays small.
 */
export function parseServerFrame(text: string): ServerFrame {
  const raw = parseJsonObject(text)
  if (typeof raw['t'] !== 'string' || !serverFrameTypes.has(raw['t'] as ServerFrameType)) {
    throw new SeqlineError(
      ErrorCode.UNKNOWN_FRAME,
      `unknown frame type ${JSON.stringify(raw['t'])}`,
    )
  }
  return raw as unknown as ServerFrame
}
