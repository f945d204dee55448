import {
  type ClientFrame,
  CloseCode,
  ErrorCode,
  type ErrorFrame,
  type HelloFrame,
  SeqlineError,
  type ServerFrame,
  type WelcomeFrame,
} from '@seqline/protocol'
import { type BackoffOptions, backoffDelay } from './backoff.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock, TimerHandle } from './clock.js'
import type { ConnectionState, StateChange } from './connection-state.js'
import { Heartbeat } from './heartbeat.js'
import { RetryTimer } from './retry-timer.js'
import type { Transport, TransportCloseInfo, TransportLink } from './transport.js'

//
//                 start()
//                    │
//                    ▼
//             ┌─────────────┐  welcome   ┌────────┐
//             │ connecting  ├───────────▶│  open  │
//             └──────┬──────┘            └───┬────┘
//                    │ link lost /           │ link lost / heartbeat timeout /
//                    │ connect timeout       │ goaway (waits for its hint)
//                    ▼                       ▼
//             ┌────────────────────────────────────┐  welcome
//             │ reconnecting                       ├──────────▶ open
//             │   waiting ──timer / wake──▶ dialing │
//             │   ▲                          │     │
//             │   └──────── link lost ◀──────┘     │
//             └────────────────────────────────────┘
//
//   any but closed ──network offline──▶ offline ──network online──▶ reconnecting (dialing, at once)
//   any ──close() / fatal error──▶ closed   (terminal: nothing scheduled)
//
// Fatal: a hello refused as UNAUTHENTICATED, FORBIDDEN or CLIENT_REVOKED, a stream-less error
// UNAUTHENTICATED or CLIENT_REVOKED on an open connection, a close with REVOKED (4403). Every other
// close — TOKEN_EXPIRED (4401: the next hello carries a fresh token), REPLACED, SLOW_CONSUMER,
// HELLO_TIMEOUT, GOING_AWAY, a dropped network — is a lost link: reconnect after the backoff.
//
// Every dial gets a new generation; a callback from an older link carries an older generation and is
// ignored, so a late `close` or frame from a replaced socket can never corrupt the current state.

/** What a {@link Connection} needs from its owner. */
export interface ConnectionOptions {
  readonly transport: Transport
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  /** Time allowed from dialing to `welcome`. */
  readonly connectTimeoutMs: number
  /** Overrides the heartbeat interval the server announces in `welcome`. */
  readonly heartbeatMs: number | undefined
  /** Builds the `hello` for a new link (token, identity). */
  hello(): Promise<HelloFrame>
  /** The server accepted a `hello`; called before the state becomes `open`. */
  onWelcome(frame: WelcomeFrame): void
  /** A frame on an open connection (everything but `welcome`, `pong` and `goaway`). */
  onFrame(frame: ServerFrame): void
  /** The server refused the `hello`. `fatal` closes the client; `retry-now` dials again at once. */
  onHelloError(frame: ErrorFrame): 'fatal' | 'retry' | 'retry-now'
  onStateChange(change: StateChange): void
}

/** The connection state machine (diagram above). Owns the link, the retry timer and the heartbeat. */
export class Connection {
  #state: ConnectionState = { kind: 'connecting', attempt: 0, generation: 0 }
  #generation = 0
  #link: TransportLink | undefined
  #heartbeat: Heartbeat | undefined
  #connectTimer: TimerHandle | undefined
  #goawayMs: number | undefined
  readonly #retry: RetryTimer
  readonly #options: ConnectionOptions

  constructor(options: ConnectionOptions) {
    this.#options = options
    this.#retry = new RetryTimer(
      options.clock,
      () => this.#dial(),
      (attempt) => backoffDelay(attempt, options.backoff, options.random),
    )
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** Starts the first attempt (or waits in `offline` when the network is known to be down). */
  start(online = true): void {
    if (this.#state.kind !== 'connecting' || this.#generation !== 0) return
    if (online) this.#dial()
    else this.#transition({ kind: 'offline' })
  }

  /** Sends a frame if the connection is open; returns whether it was sent. */
  send(frame: ClientFrame): boolean {
    if (this.#state.kind !== 'open' || this.#link === undefined) return false
    this.#link.send(frame)
    return true
  }

  /** The network went down or came back (browser `offline` / `online`). */
  networkChanged(online: boolean): void {
    const kind = this.#state.kind
    if (kind === 'closed') return
    if (!online) {
      if (kind === 'offline') return
      this.#drop()
      this.#retry.reset()
      this.#transition({ kind: 'offline' })
    } else if (kind === 'offline') {
      this.#retry.reset()
      this.#dial()
    }
  }

  /**
   * The page became visible or the device woke up. An open link is checked against the last server
   * activity; a pending retry is made now instead of waiting out its backoff.
   */
  wake(): void {
    if (this.#state.kind === 'open') this.#heartbeat?.check()
    else if (this.#state.kind === 'reconnecting' && this.#state.phase === 'waiting') {
      this.#retry.cancel()
      this.#dial()
    }
  }

  /** Closes for good. Nothing stays scheduled. */
  close(error?: Error): void {
    if (this.#state.kind === 'closed') return
    this.#drop(CloseCode.NORMAL)
    this.#retry.reset()
    this.#transition(error === undefined ? { kind: 'closed' } : { kind: 'closed', error })
  }

  #dial(): void {
    this.#drop()
    const generation = ++this.#generation
    const attempt = this.#retry.attempt
    const first = this.#state.kind === 'connecting'
    this.#transition(
      first
        ? { kind: 'connecting', attempt, generation }
        : { kind: 'reconnecting', phase: 'dialing', attempt, generation },
    )
    const current = (): boolean => generation === this.#generation
    this.#connectTimer = this.#options.clock.setTimeout(() => {
      this.#connectTimer = undefined
      if (current()) {
        const timeout = new ClientError(ClientErrorCode.CONNECT_TIMEOUT, 'no welcome in time')
        this.#lost(timeout, CloseCode.STALLED)
      }
    }, this.#options.connectTimeoutMs)
    this.#link = this.#options.transport.connect({
      onOpen: () => {
        if (current()) this.#sendHello(generation)
      },
      onFrame: (frame) => {
        if (current()) this.#receive(frame)
      },
      onTransportChange: (name) => {
        const state = this.#state
        if (current() && state.kind === 'open') this.#transition({ ...state, transport: name })
      },
      onClose: (info: TransportCloseInfo) => {
        if (!current()) return
        if (info.code === CloseCode.REVOKED) {
          const message = info.reason === '' ? 'the credentials were revoked' : info.reason
          this.close(new SeqlineError(ErrorCode.CLIENT_REVOKED, message))
        } else this.#lost(info)
      },
    })
  }

  #sendHello(generation: number): void {
    this.#options.hello().then(
      (hello) => {
        // The link may have been replaced while the token was being fetched.
        if (generation === this.#generation) this.#link?.send(hello)
      },
      (error: unknown) => {
        if (generation === this.#generation) this.#lost(error)
      },
    )
  }

  #receive(frame: ServerFrame): void {
    this.#heartbeat?.received()
    if (frame.t === 'goaway') {
      // The server closes with 1001 next; reconnect after its hint, not at once (§ server shutdown).
      this.#goawayMs = frame.retryAfterMs
      return
    }
    if (this.#state.kind === 'open') {
      if (frame.t !== 'pong') this.#options.onFrame(frame)
      return
    }
    if (frame.t === 'welcome') this.#welcome(frame)
    else if (frame.t === 'error') this.#helloFailed(frame)
  }

  #welcome(frame: WelcomeFrame): void {
    const generation = this.#generation
    if (this.#connectTimer !== undefined) this.#options.clock.clearTimeout(this.#connectTimer)
    this.#connectTimer = undefined
    this.#retry.reset()
    this.#goawayMs = undefined
    const heartbeatMs = this.#options.heartbeatMs ?? frame.heartbeatMs
    this.#heartbeat = new Heartbeat(
      this.#options.clock,
      {
        ping: () => this.send({ t: 'ping' }),
        onTimeout: (silentForMs) =>
          this.#lost(
            new ClientError(
              ClientErrorCode.HEARTBEAT_TIMEOUT,
              `no frame from the server for ${silentForMs} ms`,
            ),
            CloseCode.STALLED,
          ),
      },
      heartbeatMs,
    )
    this.#transition({
      kind: 'open',
      generation,
      transport: this.#options.transport.name,
      connectionId: frame.connectionId,
      clientId: frame.clientId,
      userId: frame.userId,
      heartbeatMs,
    })
    this.#options.onWelcome(frame)
    // onWelcome may have closed the client (e.g. storage failure); only then is there nothing to do.
    if (this.#state.kind === 'open' && generation === this.#generation) this.#heartbeat.start()
  }

  #helloFailed(frame: ErrorFrame): void {
    const verdict = this.#options.onHelloError(frame)
    if (verdict === 'fatal') {
      this.close(new SeqlineError(frame.code, frame.message))
    } else if (verdict === 'retry-now') {
      this.#retry.reset()
      this.#dial()
    } else this.#lost(frame)
  }

  /** The link is gone (or is given up with `code`): wait for the backoff, then dial again. */
  #lost(cause: unknown, code: CloseCode = CloseCode.RECONNECT): void {
    if (this.#state.kind === 'closed' || this.#state.kind === 'offline') return
    this.#drop(code)
    const hint = this.#goawayMs
    this.#goawayMs = undefined
    // A goaway hint is jittered over [hint, 2 × hint) so a whole fleet does not return at once.
    const retryInMs = this.#retry.schedule(
      hint === undefined ? undefined : Math.floor(hint * (1 + this.#options.random())),
    )
    this.#transition({
      kind: 'reconnecting',
      phase: 'waiting',
      attempt: this.#retry.attempt,
      retryInMs,
      cause,
    })
  }

  /** Detaches and closes the current link and everything tied to it. */
  #drop(code: CloseCode = CloseCode.RECONNECT): void {
    this.#generation += 1
    this.#heartbeat?.stop()
    this.#heartbeat = undefined
    if (this.#connectTimer !== undefined) this.#options.clock.clearTimeout(this.#connectTimer)
    this.#connectTimer = undefined
    const link = this.#link
    this.#link = undefined
    link?.close(code)
  }

  #transition(to: ConnectionState): void {
    const from = this.#state
    this.#state = to
    this.#options.onStateChange({ from, to })
  }
}
