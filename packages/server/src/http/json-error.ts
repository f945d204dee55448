import type { ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'

/** Sends `body` as JSON with `status`; not cacheable, since every API answer is per user. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(text))
  res.setHeader('Cache-Control', 'no-store')
  res.end(res.req?.method === 'HEAD' ? undefined : text)
}

/**
 * Answers with the JSON error body of DESIGN §6, `{ error: { code, message, ...details } }`. A
 * `SeqlineError` keeps its status and code; anything else is a `500 INTERNAL` without details, so
 * no stack trace or internal message ever reaches a client (log it before calling this).
 */
export function sendJsonError(res: ServerResponse, err: unknown): void {
  const error =
    err instanceof SeqlineError
      ? err
      : new SeqlineError(ErrorCode.INTERNAL, 'Internal server error')
  if (res.headersSent) {
    // Too late for a status line: cutting the connection is the only honest signal left.
    res.destroy()
    return
  }
  if (error.code === ErrorCode.UNAUTHENTICATED) res.setHeader('WWW-Authenticate', 'Bearer')
  // RFC 6750 §3.1: an expired token is an invalid_token.
  if (error.code === ErrorCode.TOKEN_EXPIRED) {
    res.setHeader(
      'WWW-Authenticate',
      'Bearer error="invalid_token", error_description="The token expired"',
    )
  }
  // We answer before reading the whole body (413, 401 …): closing the connection stops the client
  // from streaming the rest, and keeps a half-read body from being parsed as the next request.
  if (res.req !== undefined && !res.req.complete) res.setHeader('Connection', 'close')
  sendJson(res, error.status, {
    error: { ...error.details, code: error.code, message: error.message },
  })
}
