import type { IncomingMessage } from 'node:http'

/** Name of the cookie that may carry the user token (for EventSource, which cannot set headers). */
export const TOKEN_COOKIE = 'seqline_token'
/** Name of the query parameter that may carry the user token. */
export const TOKEN_QUERY_PARAM = 'access_token'

/** Where {@link readBearerToken} may look besides the `Authorization` header. */
export interface BearerTokenOptions {
  /**
   * Accept the `access_token` query parameter and the `seqline_token` cookie. Default: only for
   * GET and HEAD requests. A cookie is sent by the browser on cross-site requests too, so accepting
   * it for a POST or DELETE would open the door to cross-site request forgery; reads are safe.
   */
  readonly allowQueryAndCookie?: boolean | undefined
}

/**
 * Returns the user token of a request: `Authorization: Bearer <token>`, else (for reads by
 * default) the `access_token` query parameter, else the `seqline_token` cookie. `undefined` when
 * none is present.
 *
 * @example
 * const token = readBearerToken(req)
 * if (token === undefined) throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'token required')
 */
export function readBearerToken(
  req: IncomingMessage,
  options: BearerTokenOptions = {},
): string | undefined {
  const header = req.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header)
    // A malformed Authorization header is an error of the caller, not a reason to fall back.
    return match?.[1]
  }
  const method = req.method ?? 'GET'
  const allowOthers = options.allowQueryAndCookie ?? (method === 'GET' || method === 'HEAD')
  if (!allowOthers) return undefined
  const fromQuery = queryParam(req.url, TOKEN_QUERY_PARAM)
  if (fromQuery !== undefined && fromQuery !== '') return fromQuery
  const fromCookie = cookie(req.headers.cookie, TOKEN_COOKIE)
  if (fromCookie !== undefined && fromCookie !== '') return fromCookie
  return undefined
}

function queryParam(url: string | undefined, name: string): string | undefined {
  if (url === undefined) return undefined
  const query = url.indexOf('?')
  if (query < 0) return undefined
  return new URLSearchParams(url.slice(query + 1)).get(name) ?? undefined
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
      value = value.slice(1, -1)
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  }
  return undefined
}
