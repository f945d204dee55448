import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Authorize, AuthorizeAction, Principal, RevocableAuthorize } from './authenticator.js'

/** Options of {@link Authorizer}. */
export interface AuthorizerOptions {
  /**
   * How long an answer for `publish` and `signal` is reused for the same user, stream and action
   * (ms). A busy publisher would otherwise ask the hook thousands of times a second. `read`,
   * `presence` and `manage` are asked every time. 0 disables the cache.
   */
  readonly cacheMs: number
  /** Most answers kept; the oldest go first. */
  readonly cacheEntries?: number | undefined
  readonly now?: (() => number) | undefined
}

const CACHED_ACTIONS: ReadonlySet<AuthorizeAction> = new Set(['publish', 'signal'])

/**
 * Asks the `authorize` hook (G8) for every door — WebSocket frames, HTTP requests, the server API
 * — so that every decision is taken in one place: the stream name is checked first, the caller's
 * claims are passed on, a hook that throws a `SeqlineError` (say BACKEND_UNAVAILABLE) refuses with
 * that code and anything else it throws refuses with FORBIDDEN. Answers for the frequent actions
 * are kept for a short, documented time; `forget(user)` drops a user's answers at once (revocation).
 */
export class Authorizer {
  readonly #cache = new Map<string, { readonly allowed: boolean; readonly until: number }>()
  readonly #now: () => number
  readonly #maxEntries: number

  constructor(
    private readonly authorize: Authorize,
    private readonly logger: Logger,
    private readonly options: AuthorizerOptions,
  ) {
    this.#now = options.now ?? Date.now
    this.#maxEntries = options.cacheEntries ?? 100_000
  }

  /** Throws unless `principal` may do `action` on `stream`. */
  async check(principal: Principal, stream: string, action: AuthorizeAction): Promise<void> {
    if (!(await this.allows(principal, stream, action))) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, `not allowed to ${action} ${stream}`)
    }
  }

  /**
   * Whether `principal` may do `action` on `stream`. Throws INVALID_STREAM_NAME for a bad name and
   * the hook's own `SeqlineError`s; any other failure of the hook is a refusal.
   */
  async allows(principal: Principal, stream: string, action: AuthorizeAction): Promise<boolean> {
    if (!isValidStreamName(stream)) {
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'invalid stream name')
    }
    const cached = CACHED_ACTIONS.has(action) && this.options.cacheMs > 0
    const key = cached ? `${principal.userId}\u0000${stream}\u0000${action}` : ''
    if (cached) {
      const hit = this.#cache.get(key)
      if (hit !== undefined && hit.until > this.#now()) return hit.allowed
    }
    let allowed: boolean
    try {
      allowed = await this.authorize(principal.userId, stream, action, {
        claims: principal.claims,
      })
    } catch (err) {
      if (err instanceof SeqlineError) throw err
      this.logger.error({ err, stream, action }, 'authorize hook failed')
      allowed = false
    }
    if (cached) this.#remember(key, allowed === true)
    return allowed === true
  }

  /** Drops every cached answer of `userId` (after a revocation), the hook's own included. */
  forget(userId: string): void {
    const prefix = `${userId}\u0000`
    for (const key of this.#cache.keys()) if (key.startsWith(prefix)) this.#cache.delete(key)
    ;(this.authorize as RevocableAuthorize).forget?.(userId)
  }

  #remember(key: string, allowed: boolean): void {
    this.#cache.delete(key)
    this.#cache.set(key, { allowed, until: this.#now() + this.options.cacheMs })
    if (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
  }
}
