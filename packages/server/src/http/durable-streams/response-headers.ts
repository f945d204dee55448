import type { ServerResponse } from 'node:http'

// Headers every Durable Streams response carries: CORS for browser clients and the browser
// security headers of §12.7.

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
].join(', ')

/**
 * Catch-up and long-poll answers with data (§10.1). `private`: with auth on, what a reader sees
 * depends on who asks, so only the browser may keep it; data at a position never changes.
 */
export const CACHE_DATA = 'private, max-age=60, stale-while-revalidate=300'
/** Answers about the tail (HEAD, `offset=now`, empty long-polls): never cached (§5.5, §8). */
export const CACHE_NONE = 'no-store'

/** Sets the CORS and browser security headers. Done first, so that errors carry them too. */
export function setCommonHeaders(res: ServerResponse): void {
  // `*` and no credentials: tokens travel in Authorization or the query, not in cookies, when a
  // page on another origin reads a stream (see docs/protocol.md, HTTP auth).
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS)
  res.setHeader('X-Content-Type-Options', 'nosniff')
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
