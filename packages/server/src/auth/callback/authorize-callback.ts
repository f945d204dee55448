import { createHash } from 'node:crypto'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { AuthorizeAction, RevocableAuthorize } from '../authenticator.js'
import { SIGNATURE_HEADER, checkSigningSecret, signBody } from '../hmac-signature.js'
import { DecisionCache, maxAgeOf } from './decision-cache.js'
import { RequestLimiter } from './request-limiter.js'

// The authorize callback (`--authorize-url`): Seqline asks the application's backend.
//
//   POST <url>                                    Content-Type: application/json
//   Seqline-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//   {"user": "alice", "stream": "room:general", "action": "publish", "claims": {...}}
//
// Answers: 200 {"allow": true | false}, or 204 (allow), or 403 (deny), with an optional
// `Cache-Control: max-age=N` that lets Seqline reuse the answer for N seconds (capped by
// maxCacheSeconds). Anything else — another status, a malformed body, no answer within
// timeoutMs, a refused connection, a full queue — refuses the request with BACKEND_UNAVAILABLE
// (HTTP 503), which tells the client to retry later rather than that it is forbidden.

/** Options of {@link createAuthorizeCallback}. */
export interface AuthorizeCallbackOptions {
  /** The backend's endpoint, `https://…` (or `http://` on a private network). */
  readonly url: string
  /** Shared HMAC secret, at least 32 characters; never from the command line. */
  readonly secret: string
  /** How long one decision may take, queueing included. */
  readonly timeoutMs?: number | undefined
  /** Upper bound of the backend's `max-age`, in seconds. */
  readonly maxCacheSeconds?: number | undefined
  /** Decisions kept in the cache at most. */
  readonly maxCacheEntries?: number | undefined
  /** Requests in flight to the backend at most. */
  readonly maxConcurrent?: number | undefined
  /** Requests in flight about one user at most: one user cannot take every slot. */
  readonly maxConcurrentPerUser?: number | undefined
  /** Requests waiting for a slot at most; beyond, BACKEND_UNAVAILABLE at once. */
  readonly maxQueued?: number | undefined
  readonly logger?: Logger | undefined
  /** Clock of the cache, ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined
}

/** Defaults of {@link AuthorizeCallbackOptions}. */
export const authorizeCallbackDefaults = {
  timeoutMs: 2_000,
  maxCacheSeconds: 300,
  maxCacheEntries: 100_000,
  maxConcurrent: 64,
  maxConcurrentPerUser: 4,
  maxQueued: 1_024,
} as const

/** Largest answer body read from the backend; `{"allow": false}` needs 16 bytes. */
const MAX_ANSWER_BYTES = 16 * 1024
/** At most one warning per this period while the backend keeps failing. */
const WARN_EVERY_MS = 10_000
/** Claims that change with every token of the same identity: not part of the cache key. */
const VOLATILE_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti', 'auth_time'])

/** What the backend said about one request, and for how long it may be reused. */
interface Answer {
  readonly allow: boolean
  readonly maxAgeSec: number
}

/**
 * Creates an `Authorize` that asks the application's backend over HTTP (see the protocol above
 * and docs/backends.md). Identical concurrent questions share one request; answers are cached
 * for the `max-age` the backend gives; cached answers and other users' questions are served
 * while a request hangs.
 *
 * @example
 * const authorize = createAuthorizeCallback({
 *   url: 'https://api.acme.test/seqline/authorize',
 *   secret: process.env.SEQLINE_AUTHORIZE_SECRET!,
 * })
 */
export function createAuthorizeCallback(options: AuthorizeCallbackOptions): RevocableAuthorize {
  const url = parseUrl(options.url)
  checkSigningSecret(options.secret, 'authorize callback secret')
  const timeoutMs = options.timeoutMs ?? authorizeCallbackDefaults.timeoutMs
  const maxCacheSeconds = options.maxCacheSeconds ?? authorizeCallbackDefaults.maxCacheSeconds
  const now = options.now ?? Date.now
  const cache = new DecisionCache(
    options.maxCacheEntries ?? authorizeCallbackDefaults.maxCacheEntries,
  )
  const limiter = new RequestLimiter({
    maxActive: options.maxConcurrent ?? authorizeCallbackDefaults.maxConcurrent,
    maxActivePerKey: options.maxConcurrentPerUser ?? authorizeCallbackDefaults.maxConcurrentPerUser,
    maxQueued: options.maxQueued ?? authorizeCallbackDefaults.maxQueued,
  })
  const inFlight = new Map<string, Promise<boolean>>()
  let lastWarning = -Infinity
  let suppressed = 0

  const fail = (cause: unknown, user: string, stream: string, action: string): SeqlineError => {
    const at = Date.now()
    if (at - lastWarning >= WARN_EVERY_MS) {
      options.logger?.warn(
        { err: cause, user, stream, action, suppressed },
        'authorize callback failed: requests are refused with BACKEND_UNAVAILABLE',
      )
      lastWarning = at
      suppressed = 0
    } else {
      suppressed += 1
    }
    return new SeqlineError(
      ErrorCode.BACKEND_UNAVAILABLE,
      'The authorization backend is unavailable; try again later',
      { cause },
    )
  }

  const ask = async (
    key: string,
    user: string,
    stream: string,
    action: AuthorizeAction,
    claims: Readonly<Record<string, unknown>>,
  ): Promise<boolean> => {
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    )
    timer.unref()
    try {
      const body = JSON.stringify({ user, stream, action, claims })
      const answer = await limiter.run(user, controller.signal, () =>
        post(url, options.secret, body, controller.signal),
      )
      cache.set(key, answer.allow, Math.min(answer.maxAgeSec, maxCacheSeconds) * 1000, now())
      return answer.allow
    } catch (err) {
      throw fail(err, user, stream, action)
    } finally {
      clearTimeout(timer)
    }
  }

  const authorize: RevocableAuthorize = (user, stream, action, { claims }) => {
    const key = decisionKey(user, stream, action, claims)
    const cached = cache.get(key, now())
    if (cached !== undefined) return cached
    let pending = inFlight.get(key)
    if (pending === undefined) {
      pending = ask(key, user, stream, action, claims).finally(() => inFlight.delete(key))
      inFlight.set(key, pending)
    }
    return pending
  }
  // A revocation (`server.revoke`) must not wait out the backend's max-age.
  authorize.forget = (user) => cache.forgetPrefix(`${user}\u0000`)
  return authorize
}

/** One request to the backend. */
async function post(url: URL, secret: string, body: string, signal: AbortSignal): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      [SIGNATURE_HEADER]: signBody(secret, body, Math.floor(Date.now() / 1000)),
    },
    body,
    signal,
    // A redirect would resend the signed question somewhere else: refuse it.
    redirect: 'error',
  })
  const text = await readLimited(response)
  const maxAgeSec = maxAgeOf(response.headers.get('cache-control'))
  if (response.status === 204) return { allow: true, maxAgeSec }
  if (response.status === 403) return { allow: false, maxAgeSec }
  if (response.status !== 200) throw new Error(`the backend answered HTTP ${response.status}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error('the backend answered 200 without a JSON body {"allow": true | false}')
  }
  const allow = (parsed as { allow?: unknown } | null)?.allow
  if (typeof allow !== 'boolean') {
    throw new Error('the backend answered 200 without a boolean "allow"')
  }
  return { allow, maxAgeSec }
}

/** The body as text, refusing one past MAX_ANSWER_BYTES. */
async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await response.body.cancel().catch(() => undefined)
      throw new Error(`the backend answered more than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The cache and deduplication key of a question: user, stream, action and the claims that
 * identify the token's grants (not its timestamps, which change with every refresh), hashed to
 * a fixed size whatever the size of the claims.
 */
function decisionKey(
  user: string,
  stream: string,
  action: string,
  claims: Readonly<Record<string, unknown>>,
): string {
  const stable = Object.keys(claims)
    .filter((k) => !VOLATILE_CLAIMS.has(k))
    .sort()
    .map((k) => [k, canonical(claims[k])])
  // The user in clear first: a revocation drops every answer about that user by prefix.
  const digest = createHash('sha256')
    .update(JSON.stringify([user, stream, action, stable]))
    .digest('base64url')
  return `${user}\u0000${digest}`
}

/** A JSON value with object keys sorted, so that equal claims give equal keys. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    return Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])])
  }
  return value
}

function parseUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error(`The authorize URL is not a URL: ${raw}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`The authorize URL must be http(s)://…, not ${url.protocol}`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error('The authorize URL must not carry credentials: requests are signed instead')
  }
  return url
}
