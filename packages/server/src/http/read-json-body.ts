import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

/**
 * Reads a request body of at most `limitBytes` and parses it as JSON. Rejects with
 * `PAYLOAD_TOO_LARGE` (413) as soon as the body is known to exceed the limit, without buffering
 * more, and with `BAD_REQUEST` (400) when the body is empty or not valid JSON.
 *
 * @example
 * const body = await readJsonBody(req, { limitBytes: 65_536 })
 */
export function readJsonBody(
  req: IncomingMessage,
  options: { readonly limitBytes: number },
): Promise<unknown> {
  const { limitBytes } = options
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limitBytes) {
      reject(tooLarge(limitBytes))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limitBytes) {
        cleanup()
        // Stop reading: the 413 response closes the connection (see sendJsonError).
        req.pause()
        reject(tooLarge(limitBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() === '') {
        reject(new SeqlineError(ErrorCode.BAD_REQUEST, 'Expected a JSON body'))
        return
      }
      try {
        resolve(JSON.parse(text))
      } catch {
        reject(new SeqlineError(ErrorCode.BAD_REQUEST, 'The body is not valid JSON'))
      }
    }
    const onError = (cause: Error): void => {
      cleanup()
      reject(
        new SeqlineError(ErrorCode.BAD_REQUEST, 'The request body could not be read', { cause }),
      )
    }
    const onAborted = (): void => onError(new Error('request aborted'))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}

function tooLarge(limitBytes: number): SeqlineError {
  return new SeqlineError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `The body exceeds the limit of ${limitBytes} bytes`,
  )
}
