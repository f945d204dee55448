import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { readBody } from './read-body.js'

/**
 * Reads a request body of at most `limitBytes` and parses it as JSON. Rejects with
 * `PAYLOAD_TOO_LARGE` (413) when the body exceeds the limit (see `readBody`), and with
 * `BAD_REQUEST` (400) when the body is empty or not valid JSON.
 *
 * @example
 * const body = await readJsonBody(req, { limitBytes: 65_536 })
 */
export async function readJsonBody(
  req: IncomingMessage,
  options: { readonly limitBytes: number },
): Promise<unknown> {
  const text = (await readBody(req, options.limitBytes)).toString('utf8')
  if (text.trim() === '') throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON body')
  try {
    return JSON.parse(text)
  } catch {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'The body is not valid JSON')
  }
}
