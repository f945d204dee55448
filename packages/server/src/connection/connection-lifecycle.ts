import type { Principal } from '../auth/authenticator.js'
import type { EngineSession } from '../engine/session.js'
import type { ConnectionSettings } from './connection-context.js'

//
//   awaiting-hello ──hello──▶ greeting ──welcome──▶ open ◀──auth──┐
//        │                       │                    │           │
//        │ hello timeout         │ refused            │ token     │
//        ▼                       ▼                    ▼ expires   │
//      closed ◀──────────────── closed             expired ───────┘
//                                                     │ no auth within the grace period
//                                                     ▼
//                                                   closed (4401 TOKEN_EXPIRED)
//
// Any state goes to closed when the link closes, when a hello or an `auth` is refused, and when
// the peer is cut as a slow consumer.

/** Where a connection stands; each state holds its own timers. */
export type ConnectionState =
  | { readonly kind: 'awaiting-hello'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'greeting' }
  | { readonly kind: 'open'; readonly session: EngineSession; readonly expiry: Expiry }
  | {
      readonly kind: 'expired'
      readonly session: EngineSession
      readonly grace: NodeJS.Timeout
      /** Resolves when the connection leaves `expired` (fresh token or close). */
      readonly resumed: Promise<void>
      readonly resume: () => void
    }
  | { readonly kind: 'closed' }

/** The timer that fires when the session's token expires (none for tokens without expiry). */
type Expiry = NodeJS.Timeout | undefined

/** What the lifecycle's timers tell their connection, which answers the peer. */
export interface LifecycleTimeouts {
  /** No hello came within `helloTimeoutMs`; the connection is still `awaiting-hello`. */
  helloTimedOut(): void
  /** The token expired; the connection is now `expired`. */
  tokenExpired(): void
  /** No fresh token came within `authGraceMs` of the expiry; the connection is still `expired`. */
  graceEnded(): void
}

// setTimeout fires at once for delays above 2^31 − 1 ms: longer waits are taken in steps.
const MAX_TIMER_MS = 2_147_483_647

/**
 * The state machine of one protocol connection (diagram above) and the timers that hold its
 * credentials to their lifetime (G8): the hello timeout, the token's expiry and the grace period
 * after it. Every change of state goes through here, and leaving a state stops its timers. The
 * timers only report (`LifecycleTimeouts`); what the peer is told is the connection's business.
 */
export class ConnectionLifecycle {
  #state: ConnectionState

  constructor(
    private readonly settings: Pick<ConnectionSettings, 'helloTimeoutMs' | 'authGraceMs'>,
    private readonly now: () => number,
    private readonly timeouts: LifecycleTimeouts,
  ) {
    const timer = setTimeout(() => this.#helloTimedOut(), settings.helloTimeoutMs)
    timer.unref()
    this.#state = { kind: 'awaiting-hello', timer }
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** The engine session of a greeted connection (`open` or `expired`). */
  get session(): EngineSession | undefined {
    const state = this.#state
    return state.kind === 'open' || state.kind === 'expired' ? state.session : undefined
  }

  /** A hello arrived: `awaiting-hello` → `greeting`, and the hello timeout stops. */
  greet(): void {
    const state = this.#state
    if (state.kind !== 'awaiting-hello') return
    clearTimeout(state.timer)
    this.#state = { kind: 'greeting' }
  }

  /**
   * The hello was answered, or the session took a fresh token: → `open` until `principal`'s token
   * expires. Leaving `expired` resumes the deliveries that waited for it.
   */
  open(session: EngineSession, principal: Principal): void {
    this.#clearTimers(this.#state)
    this.#state = { kind: 'open', session, expiry: this.#scheduleExpiry(principal) }
  }

  /** → `closed`, stopping every timer. Returns the state left: its session is the caller's to end. */
  close(): ConnectionState {
    const state = this.#state
    this.#state = { kind: 'closed' }
    this.#clearTimers(state)
    return state
  }

  #helloTimedOut(): void {
    if (this.#state.kind !== 'awaiting-hello') return
    this.timeouts.helloTimedOut()
  }

  #scheduleExpiry(principal: Principal): Expiry {
    const at = principal.expiresAt
    if (at === undefined) return undefined
    const delay = at - this.now()
    const timer = setTimeout(
      () => (delay > MAX_TIMER_MS ? this.#rescheduleExpiry(principal) : this.#expire()),
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    )
    timer.unref()
    return timer
  }

  #rescheduleExpiry(principal: Principal): void {
    const state = this.#state
    if (state.kind === 'open' && state.session.principal === principal) {
      this.#state = { ...state, expiry: this.#scheduleExpiry(principal) }
    }
  }

  /** The token expired: nothing is delivered or accepted until `auth`, or the grace period ends. */
  #expire(): void {
    const state = this.#state
    if (state.kind !== 'open') return
    let resume = (): void => {}
    const resumed = new Promise<void>((resolve) => (resume = resolve))
    const grace = setTimeout(() => {
      if (this.#state.kind !== 'expired') return
      this.timeouts.graceEnded()
    }, this.settings.authGraceMs)
    grace.unref()
    this.#state = { kind: 'expired', session: state.session, grace, resumed, resume }
    this.timeouts.tokenExpired()
  }

  #clearTimers(state: ConnectionState): void {
    if (state.kind === 'awaiting-hello') clearTimeout(state.timer)
    else if (state.kind === 'open' && state.expiry !== undefined) clearTimeout(state.expiry)
    else if (state.kind === 'expired') {
      clearTimeout(state.grace)
      state.resume()
    }
  }
}
