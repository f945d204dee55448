// One place that decides what a content type is (DESIGN §6): JSON mode, text, bytes, and what may
// be shown inline by a browser on the server's origin.

/** Content type of streams created by WebSocket publishes: one JSON value per message. */
export const JSON_MEDIA_TYPE = 'application/json'

/** `type/subtype`, optionally with parameters: anything else is no media type. */
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/

/** The lower-cased `type/subtype` of a content type, without parameters. */
export function baseMediaType(contentType: string): string {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase()
}

/** Whether a stream of this content type holds one JSON value per message (JSON mode, DS §9.1). */
export function isJsonMediaType(contentType: string): boolean {
  return baseMediaType(contentType) === JSON_MEDIA_TYPE
}

/** Whether messages of this content type are text (sent as strings, not base64). */
export function isTextMediaType(contentType: string): boolean {
  return baseMediaType(contentType).startsWith('text/')
}

/** Whether `value` is a syntactically valid media type. */
export function isValidMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value)
}

/**
 * Whether stream content of this type may be shown inline by a browser: only JSON and plain text,
 * which no browser executes. Anything else a user stored (HTML, SVG, JavaScript…) is served as an
 * attachment under a sandboxing Content-Security-Policy, so it can never run on the server's
 * origin (where the app and its credentials live).
 */
export function isInlineSafe(contentType: string): boolean {
  const base = baseMediaType(contentType)
  return base === JSON_MEDIA_TYPE || base === 'text/plain'
}
