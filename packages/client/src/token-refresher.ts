import type { AuthFrame } from '@seqline/protocol'
import { type BackoffOptions, backoffDelay } from './backoff.js'
import type { Clock } from './clock.js'
import { RetryTimer } from './retry-timer.js'

//
//   ┌──────┐ welcome / authOk ┌───────────┐ timer at         ┌──────────┐ `auth` sent  ┌──────┐
//   │ idle ├─with expiresAt──▶│ scheduled ├─expiresAt−lead──▶│ fetching ├─────────────▶│ sent │
//   └──────┘                  └───────────┘                  └──┬────▲──┘              └──┬───┘
//                                   ▲             getToken() failed │    │ backoff timer      │
//                                   │                               ▼    │                    │
//                                   │                            ┌───────┴──┐                 │
//                                   │                            │ retrying │                 │
//                                   │                            └──────────┘                 │
//                                   └──────────────────── authOk with expiresAt ──────────────┘
//
//   any ──error TOKEN_EXPIRED──▶ fetching (unless already)      any ──link lost──▶ idle
//
// The lead is min(30 s, half the remaining lifetime): a token of 10 minutes is refreshed 30 s
// before it expires, one of 40 s after 20 s. A refresh is never planned sooner than 1 s ahead, so
// a server whose clock runs ahead of ours cannot make us loop. `expiresAt` is compared with the
// client's clock; if that runs late the server's TOKEN_EXPIRED error still triggers a refresh at
// once, within the server's grace period. A failing `getToken()` is retried with backoff until the
// link ends (the server closes it with TOKEN_EXPIRED, and the next hello asks for a token again).

/** State of a {@link TokenRefresher} (diagram above). */
export type RefreshState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'scheduled'; readonly at: number }
  | { readonly kind: 'fetching' }
  | { readonly kind: 'sent' }
  | { readonly kind: 'retrying' }

/** Longest time a token is refreshed ahead of its expiry. */
export const REFRESH_LEAD_MS = 30_000
/** Shortest delay of a planned refresh. */
export const MIN_REFRESH_DELAY_MS = 1_000

/** What a {@link TokenRefresher} needs from its client. */
export interface TokenRefresherOptions {
  /** The app's token source. */
  getToken(): string | Promise<string>
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  /** Sends `auth` on the open connection; false when it is not open any more. */
  send(frame: AuthFrame): boolean
  /** `getToken()` failed with `cause`; it is retried. */
  onError(cause: unknown): void
}

/** Keeps the user token of an open connection fresh (diagram above). */
export class TokenRefresher {
  readonly #options: TokenRefresherOptions
  readonly #timer: RetryTimer
  #state: RefreshState = { kind: 'idle' }

  constructor(options: TokenRefresherOptions) {
    this.#options = options
    this.#timer = new RetryTimer(
      options.clock,
      () => this.#fetch(),
      (attempt) => backoffDelay(attempt, options.backoff, options.random),
    )
  }

  get state(): RefreshState {
    return this.#state
  }

  /** The connection opened (`welcome`) or the server accepted a token (`authOk`). */
  expiresAt(expiresAt: number | undefined): void {
    this.#timer.reset()
    if (expiresAt === undefined) {
      this.#transition({ kind: 'idle' })
      return
    }
    const now = this.#options.clock.now()
    const remaining = expiresAt - now
    const lead = Math.min(REFRESH_LEAD_MS, Math.max(0, remaining) / 2)
    const delay = Math.max(MIN_REFRESH_DELAY_MS, remaining - lead)
    this.#transition({ kind: 'scheduled', at: now + delay })
    this.#timer.schedule(delay)
  }

  /** The server says the token expired: fetch and send a fresh one at once. */
  expired(): void {
    if (this.#state.kind === 'fetching') return
    this.#timer.reset()
    this.#fetch()
  }

  /** The link ended: nothing is scheduled; the next hello fetches a token anyway. */
  stop(): void {
    this.#timer.reset()
    this.#transition({ kind: 'idle' })
  }

  #fetch(): void {
    const fetching: RefreshState = { kind: 'fetching' }
    this.#transition(fetching)
    Promise.resolve()
      .then(() => this.#options.getToken())
      .then(
        (token) => {
          if (this.#state !== fetching) return
          const sent = this.#options.send({ t: 'auth', token })
          this.#transition(sent ? { kind: 'sent' } : { kind: 'idle' })
        },
        (cause: unknown) => {
          if (this.#state !== fetching) return
          this.#options.onError(cause)
          this.#transition({ kind: 'retrying' })
          this.#timer.schedule()
        },
      )
  }

  #transition(to: RefreshState): void {
    this.#state = to
  }
}
