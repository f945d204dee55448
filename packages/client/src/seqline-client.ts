import {
  type ClientFrame,
  type ErrorFrame,
  ErrorCode,
  type HelloFrame,
  SeqlineError,
  type ServerFrame,
  type WelcomeFrame,
} from '@seqline/protocol'
import { AckBatcher } from './ack-batcher.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import { type ClientOptions, defaults } from './client-options.js'
import { type Clock, systemClock } from './clock.js'
import { Connection } from './connection.js'
import type { ConnectionState, StateChange } from './connection-state.js'
import { type Disposer, Emitter } from './emitter.js'
import type { ClosingNotice } from './closing-notice.js'
import { type Environment, browserEnvironment } from './environment.js'
import { type Identity, loadIdentity } from './identity.js'
import { Outbox, type PublishOutcome } from './outbox.js'
import { PositionStore } from './position-store.js'
import { randomId } from './random-id.js'
import { MemoryStorage } from './storage/memory-storage.js'
import { IDENTITY_KEY, browserStorage } from './storage/session-identity.js'
import type { Storage } from './storage/storage.js'
import { StorageWriter } from './storage-writer.js'
import { type StreamController, StreamHandle } from './stream-handle.js'
import type { TokenRefresher } from './token-refresher.js'
import { transportOf } from './transport-option.js'

/** Events of a {@link SeqlineClient}. */
export interface ClientEvents {
  /** The connection state changed. */
  state: StateChange
  /** The server accepted a `hello`; `replaced` tells why a new client id was issued. */
  identity: { clientId: string; userId: string; replaced: 'unknown' | 'in-use' | undefined }
  /** A publish ended, including those restored from storage that no promise awaits. */
  published: { stream: string; seq: number; outcome: PublishOutcome }
  /** A problem that does not close the client (storage, a refused hello, a server error). */
  error: Error
}

/**
 * A Seqline client: one connection, many streams, delivery state that outlives sockets (G7).
 * Create it with {@link createClient}.
 */
export class SeqlineClient {
  readonly #options: ClientOptions
  readonly #storage: Storage
  readonly #clock: Clock
  readonly #random: () => number
  readonly #events = new Emitter<ClientEvents>()
  readonly #streams = new Map<
    string,
    { handle: StreamHandle<never>; controller: StreamController }
  >()
  readonly #connection: Connection
  readonly #outbox: Outbox
  readonly #positions: PositionStore
  readonly #writer: StorageWriter
  readonly #acks: AckBatcher
  readonly #getToken: () => string | Promise<string>
  /** The app's token function; undefined for a static token, which cannot be refreshed. */
  readonly #tokenFunction: (() => string | Promise<string>) | undefined
  readonly #disposers: Disposer[] = []
  readonly #ready: Promise<void>
  // Loaded on first use (deferred-parts.ts): until then there is nothing for them to do.
  #refresherLoading: Promise<TokenRefresher> | undefined
  #refresher: TokenRefresher | undefined
  #noticeLoading: Promise<ClosingNotice> | undefined
  #notice: ClosingNotice | undefined
  #identity: Identity | undefined
  /** Connection id held last by this object: lets a reconnect take over its own slot. Memory only. */
  #takeover: string | undefined
  /** Why the next `welcome` will carry a new client id, when we already know (CLIENT_UNKNOWN). */
  #expectReplaced: 'unknown' | undefined
  #environment: Environment | undefined
  #closing: Promise<void> | undefined
  #forgetting: Promise<void> | undefined

  constructor(options: ClientOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? Math.random
    this.#storage = options.storage ?? defaultStorage()
    const backoff = options.backoff ?? defaults.backoff
    const send = (frame: ClientFrame): boolean => this.#connection.send(frame)
    const source = options.getToken ?? options.token
    if (source === undefined) throw new TypeError('createClient: pass `getToken` (or `token`)')
    this.#getToken = typeof source === 'string' ? () => source : source
    this.#tokenFunction = typeof source === 'string' ? undefined : source
    this.#writer = new StorageWriter({
      storage: this.#storage,
      clock: this.#clock,
      random: this.#random,
      backoff,
      onError: (error) => this.#events.emit('error', error),
    })
    this.#positions = new PositionStore(this.#storage, this.#writer)
    this.#acks = new AckBatcher(this.#clock, options.ackDelayMs ?? defaults.ackDelayMs, send)
    this.#outbox = new Outbox({
      storage: this.#storage,
      writer: this.#writer,
      clock: this.#clock,
      random: this.#random,
      backoff,
      send,
      maxInFlight: options.maxInFlight ?? defaults.maxInFlight,
      onSettled: (entry, outcome) => this.#events.emit('published', { ...entry, outcome }),
    })
    this.#connection = new Connection({
      transport: transportOf(options, this.#clock, this.#random),
      clock: this.#clock,
      random: this.#random,
      backoff,
      connectTimeoutMs: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      hello: () => this.#hello(),
      onWelcome: (frame) => this.#welcome(frame),
      onFrame: (frame) => this.#receive(frame),
      onHelloError: (frame) => this.#helloRefused(frame),
      onStateChange: (change) => this.#stateChanged(change),
    })
    this.#ready = this.#start()
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.#connection.state
  }

  /** Server-assigned client id, once known. */
  get clientId(): string | undefined {
    return this.#identity?.clientId
  }

  /** Publishes waiting for their `puback`. */
  get pendingPublishes(): number {
    return this.#outbox.size
  }

  /** Resolves once identity and the outbox are loaded from storage. */
  ready(): Promise<void> {
    return this.#ready
  }

  /** Listens to a client event; returns the disposer. */
  on<K extends keyof ClientEvents>(event: K, listener: (arg: ClientEvents[K]) => void): Disposer {
    return this.#events.on(event, listener)
  }

  /**
   * The handle of a stream; `T` types the `data` of its messages. The same name returns the same
   * handle.
   */
  stream<T = unknown>(name: string): StreamHandle<T> {
    const known = this.#streams.get(name)
    if (known !== undefined) return known.handle as unknown as StreamHandle<T>
    let controller: StreamController | undefined
    const handle = new StreamHandle<never>(name, {
      send: (frame) => this.#connection.send(frame),
      positions: this.#positions,
      acks: this.#acks,
      outbox: this.#outbox,
      clock: this.#clock,
      random: this.#random,
      backoff: this.#options.backoff ?? defaults.backoff,
      isOpen: () => this.#connection.state.kind === 'open',
      attach: (attached) => (controller = attached),
    })
    this.#streams.set(name, { handle, controller: controller! })
    return handle as unknown as StreamHandle<T>
  }

  /** Resolves when every publish (including restored ones) has been committed or has failed. */
  async flushed(): Promise<void> {
    await this.#ready
    await this.#outbox.flushed()
  }

  /**
   * Closes the connection, flushes acks and positions, and leaves nothing scheduled. Pending
   * publishes reject with CLIENT_CLOSED but stay in storage for the next client.
   *
   * With `forget: true` the client is done for good: after the acks are flushed and the connection
   * closed, it deletes itself on the server (`DELETE /v1/clients/<id>` with the user token) and
   * removes its identity, positions and outbox from storage — pending publishes included (await
   * {@link flushed} first to keep them). Rejects if the server could not delete it (then it
   * forgets the client after its TTL); the local state is removed either way.
   *
   * @example
   * await client.flushed()
   * await client.close({ forget: true }) // a Node worker that will never come back
   */
  close(options: { readonly forget?: boolean } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#acks.flush()
      this.#connection.close()
      await this.#ready.catch(() => {})
      await this.#writer.close()
    })()
    if (options.forget !== true) return this.#closing
    this.#forgetting ??= this.#closing.then(() => this.#forget())
    return this.#forgetting
  }

  async #forget(): Promise<void> {
    const identity = this.#identity
    if (identity === undefined) return
    // Loaded on use: most clients never forget themselves.
    const { forgetClient } = await import('./deferred-parts.js')
    await forgetClient({
      storage: this.#storage,
      namespace: namespaceOf(identity),
      identityKey: IDENTITY_KEY,
      ...(identity.clientId === undefined
        ? {}
        : {
            url: this.#clientUrl(identity.clientId),
            token: () => this.#getToken(),
            fetch: this.#options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
          }),
    })
  }

  #clientUrl(clientId: string): string {
    return `${this.#options.url.replace(/\/+$/, '')}/v1/clients/${encodeURIComponent(clientId)}`
  }

  async #start(): Promise<void> {
    try {
      this.#identity = await loadIdentity(this.#storage)
      this.#positions.use(namespaceOf(this.#identity))
      await this.#outbox.load(namespaceOf(this.#identity), this.#identity.producerEpoch)
    } catch (cause) {
      this.#connection.close(
        new ClientError(ClientErrorCode.STORAGE_FAILED, 'could not load client state', { cause }),
      )
      return
    }
    if (this.#connection.state.kind === 'closed') return
    const environment =
      this.#options.environment === undefined ? browserEnvironment() : this.#options.environment
    if (environment !== undefined && environment !== null) {
      this.#environment = environment
      this.#disposers.push(
        environment.watch({
          online: () => this.#connection.networkChanged(true),
          offline: () => this.#connection.networkChanged(false),
          wake: () => this.#connection.wake(),
          leave: () => this.#notice?.send(),
        }),
      )
    }
    this.#connection.start(environment?.isOnline() ?? true)
  }

  async #hello(): Promise<HelloFrame> {
    const token = await this.#getToken()
    const identity = this.#identity
    // Unknown fields stay undefined: JSON leaves them out.
    return {
      t: 'hello',
      token,
      clientId: identity?.clientId,
      secret: identity?.secret,
      takeover: this.#takeover,
      onInUse: 'fresh',
    }
  }

  #welcome(frame: WelcomeFrame): void {
    const previous = this.#identity
    if (previous === undefined) return
    this.#takeover = frame.connectionId
    const changed = previous.clientId !== frame.clientId
    // A new id where we presented one means our old producer id is gone: see Outbox.rebind.
    const replaced =
      frame.replaced ??
      (changed && previous.clientId !== undefined ? 'unknown' : this.#expectReplaced)
    this.#expectReplaced = undefined
    if (changed || frame.secret !== undefined) {
      const next: Identity = {
        localId: replaced === 'in-use' ? randomId() : previous.localId,
        clientId: frame.clientId,
        secret: frame.secret ?? previous.secret,
        producerEpoch: previous.producerEpoch,
      }
      this.#identity = next
      void this.#writer.write([{ key: IDENTITY_KEY, value: next }])
      if (replaced !== undefined) {
        // Positions are per stream, not per client: they stay valid. A duplicated tab writes them
        // under its own new namespace from now on.
        if (replaced === 'in-use') this.#positions.use(namespaceOf(next), true)
        this.#outbox.rebind(replaced, namespaceOf(next), next.producerEpoch)
      }
    }
    this.#events.emit('identity', { clientId: frame.clientId, userId: frame.userId, replaced })
    if (frame.expiresAt === undefined) this.#refresher?.expiresAt(undefined)
    else this.#refresh((refresher) => refresher.expiresAt(frame.expiresAt))
    this.#signNotice(frame.clientId)
    for (const { controller } of this.#streams.values()) controller.opened()
    this.#acks.flush()
    this.#outbox.opened()
  }

  /** Runs `use` on the token refresher, loaded first if needed, if the connection is still open. */
  #refresh(use: (refresher: TokenRefresher) => void): void {
    const getToken = this.#tokenFunction
    if (getToken === undefined) return
    this.#refresherLoading ??= import('./deferred-parts.js').then(({ TokenRefresher }) => {
      this.#refresher = new TokenRefresher({
        getToken,
        clock: this.#clock,
        random: this.#random,
        backoff: this.#options.backoff ?? defaults.backoff,
        send: (frame) => this.#connection.send(frame),
        onError: (cause) => {
          const message = 'getToken() failed while refreshing the token; retrying'
          const code = ClientErrorCode.TOKEN_REFRESH_FAILED
          this.#events.emit('error', new ClientError(code, message, { cause }))
        },
      })
      return this.#refresher
    })
    this.#whileOpen(this.#refresherLoading, use)
  }

  /** Signs the closing notice of the open connection's client (and every minute after). */
  #signNotice(clientId: string): void {
    const environment = this.#environment
    const secret = this.#identity?.secret
    if (environment === undefined || secret === undefined) return
    this.#noticeLoading ??= import('./deferred-parts.js').then(({ ClosingNotice }) => {
      this.#notice = new ClosingNotice({
        clock: this.#clock,
        beacon: (url, body) => environment.beacon?.(url, body) === true,
        fetch: this.#options.fetch,
      })
      return this.#notice
    })
    this.#whileOpen(this.#noticeLoading, (notice) =>
      notice.start(`${this.#clientUrl(clientId)}/closing`, clientId, secret),
    )
  }

  /** Once `part` is there, runs `use` — if the connection open now is still the one open then. */
  #whileOpen<T>(part: Promise<T>, use: (part: T) => void): void {
    const opened = this.#connection.state
    void part.then((loaded) => {
      const now = this.#connection.state
      if (opened.kind === 'open' && now.kind === 'open' && now.generation === opened.generation) {
        use(loaded)
      }
    })
  }

  #helloRefused(frame: ErrorFrame): 'fatal' | 'retry' | 'retry-now' {
    const error = new SeqlineError(frame.code, frame.message)
    if (frame.code === ErrorCode.CLIENT_UNKNOWN && this.#identity !== undefined) {
      // Garbage-collected (DESIGN §9): register again on the next hello and resync.
      const { clientId: _id, secret: _secret, ...rest } = this.#identity
      this.#identity = rest
      this.#expectReplaced = 'unknown'
      return 'retry-now'
    }
    if (
      frame.code === ErrorCode.UNAUTHENTICATED ||
      frame.code === ErrorCode.FORBIDDEN ||
      frame.code === ErrorCode.CLIENT_REVOKED
    ) {
      return 'fatal'
    }
    this.#events.emit('error', error)
    return 'retry'
  }

  #receive(frame: ServerFrame): void {
    switch (frame.t) {
      case 'puback':
        this.#outbox.puback(frame)
        return
      case 'nack':
        this.#outbox.nack(frame)
        return
      case 'authOk':
        this.#refresher?.expiresAt(frame.expiresAt)
        return
      case 'error':
        if (frame.stream !== undefined) this.#streams.get(frame.stream)?.controller.receive(frame)
        else if (frame.code === ErrorCode.TOKEN_EXPIRED) {
          this.#refresh((refresher) => refresher.expired())
        } else if (
          frame.code === ErrorCode.UNAUTHENTICATED ||
          frame.code === ErrorCode.CLIENT_REVOKED
        ) {
          this.#connection.close(new SeqlineError(frame.code, frame.message))
        } else this.#events.emit('error', new SeqlineError(frame.code, frame.message))
        return
      case 'msg':
      case 'caughtUp':
      case 'reset':
      case 'presence':
      case 'presenceDiff':
      case 'signal':
        this.#streams.get(frame.stream)?.controller.receive(frame)
        return
      default:
    }
  }

  #stateChanged(change: StateChange): void {
    if (change.from.kind === 'open' && change.to.kind !== 'open') {
      this.#refresher?.stop()
      this.#notice?.stop()
      for (const { controller } of this.#streams.values()) controller.disconnected()
      this.#outbox.disconnected()
    }
    if (change.to.kind === 'closed') this.#shutdown()
    this.#events.emit('state', change)
    if (change.to.kind === 'closed' && change.to.error !== undefined) {
      this.#events.emit('error', change.to.error)
    }
  }

  /** Releases everything the client holds; after it nothing is attached or scheduled. */
  #shutdown(): void {
    for (const dispose of this.#disposers.splice(0)) dispose()
    this.#refresher?.stop()
    this.#notice?.stop()
    this.#acks.close()
    this.#outbox.close()
    for (const { controller } of this.#streams.values()) controller.close()
  }
}

/**
 * Creates a client and starts connecting.
 *
 * @example
 * const client = createClient({ url: 'https://chat.example.com', getToken })
 * const room = client.stream<{ text: string }>('room:general')
 * room.subscribe({ onMessage: (m) => console.log(m.data.text) })
 * const { offset } = await room.publish({ text: 'hi' })
 */
export function createClient(options: ClientOptions): SeqlineClient {
  return new SeqlineClient(options)
}

function namespaceOf(identity: Identity): string {
  return `${identity.localId}/`
}

function defaultStorage(): Storage {
  const g = globalThis as { indexedDB?: unknown; sessionStorage?: unknown }
  return g.indexedDB !== undefined && g.sessionStorage !== undefined
    ? browserStorage()
    : new MemoryStorage()
}
