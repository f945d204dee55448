import type { ServerResponse } from 'node:http'
import { isInlineSafe } from '../../media-type.js'

/**
 * Catch-up and long-poll answers with data (§10.1). `private`: with auth on, what a reader sees
 * depends on who asks, so only the browser may keep it; data at a position never changes.
 */
export const CACHE_DATA = 'private, max-age=60, stale-while-revalidate=300'
/** Answers about the tail (HEAD, `offset=now`, empty long-polls): never cached (§5.5, §8). */
export const CACHE_NONE = 'no-store'

/**
 * Headers of a response carrying stream content (F1: no stream content is ever active content on
 * the server's origin): `nosniff`, a sandboxing Content-Security-Policy — a document rendered from
 * it gets an opaque origin, no script, no plugin — and, for anything but JSON and plain text, an
 * attachment disposition, so a browser downloads HTML or SVG a user stored instead of showing it.
 */
export function setContentHeaders(res: ServerResponse, contentType: string): void {
  res.setHeader('Content-Type', contentType)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'")
  if (!isInlineSafe(contentType)) res.setHeader('Content-Disposition', 'attachment')
}
