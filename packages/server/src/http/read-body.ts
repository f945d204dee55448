import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

/**
 * A body over the limit is still read (and dropped) up to this many bytes before the 413 goes
 * out, so that the client, still uploading, receives the answer instead of a reset connection.
 * Beyond it the request is answered at once and the connection closed.
 */
const DRAIN_MIN_BYTES = 16 * 1024 * 1024

/**
 * Reads a raw request body of at most `limitBytes`. Rejects with PAYLOAD_TOO_LARGE (413) when the
 * body exceeds it (Durable Streams §5.2 allows 413): after draining it if it is not huge, so the connection stays
 * usable; at once otherwise, without buffering any of it.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const drainBytes = Math.max(limitBytes * 16, DRAIN_MIN_BYTES)
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > drainBytes) {
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
      if (size > drainBytes) {
        cleanup()
        // Stop reading: the 413 answer closes the connection (see sendJsonError).
        req.pause()
        reject(tooLarge(limitBytes))
        return
      }
      if (size <= limitBytes) chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      if (size > limitBytes) reject(tooLarge(limitBytes))
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
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
