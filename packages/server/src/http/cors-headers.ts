import type { ServerResponse } from 'node:http'

// Cross-origin access to the Durable Streams endpoints (browser clients on other origins, §12.7)
// and to the HTTP sessions of the SDK's fallback.

const ALLOWED_METHODS = 'GET, POST, PUT, DELETE, HEAD, OPTIONS'
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'If-None-Match',
  'Stream-Seq',
  'Stream-TTL',
  'Stream-Expires-At',
  'Stream-Closed',
  'Producer-Id',
  'Producer-Epoch',
  'Producer-Seq',
  'Stream-Forked-From',
  'Stream-Fork-Offset',
  'Stream-Fork-Sub-Offset',
].join(', ')
const EXPOSED_HEADERS = [
  'Stream-Next-Offset',
  'Stream-Cursor',
  'Stream-Up-To-Date',
  'Stream-Closed',
  'Stream-TTL',
  'Stream-Expires-At',
  'Stream-SSE-Data-Encoding',
  'Producer-Epoch',
  'Producer-Seq',
  'Producer-Expected-Seq',
  'Producer-Received-Seq',
  'ETag',
  'Location',
  'Retry-After',
].join(', ')

/** Sets the CORS headers of a cross-origin route. Done first, so that errors carry them too. */
export function setCorsHeaders(res: ServerResponse): void {
  // `*` and no credentials: tokens travel in Authorization or the query, not in cookies, when a
  // page on another origin reads a stream (see docs/protocol.md, HTTP auth).
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS)
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin')
}

/** Answers a CORS preflight. */
export function sendPreflight(res: ServerResponse): void {
  res.statusCode = 204
  res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS)
  res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS)
  res.setHeader('Access-Control-Max-Age', '600')
  res.end()
}
