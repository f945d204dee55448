import {
  type ClientFrame,
  type Message,
  type Position,
  type PresenceCount,
  type PresenceEntry,
  SeqlineError,
  type ServerFrame,
} from '@seqline/protocol'
import type { AckBatcher } from './ack-batcher.js'
import type { BackoffOptions } from './backoff.js'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Clock } from './clock.js'
import { type Disposer, Emitter } from './emitter.js'
import { messageIterator } from './message-iterator.js'
import type { Outbox, PublishResult } from './outbox.js'
import type { PositionStore } from './position-store.js'
import {
  type SnapshotResult,
  type SubscribeOptions,
  type SubscribedEvent,
  StreamSubscription,
} from './stream-subscription.js'

const NOBODY: PresenceCount = { users: 0, clients: 0 }

/** A live subscription. */
export interface Subscription {
  /** Resolves at the first completed subscribe; rejects if the server refuses it (e.g. FORBIDDEN). */
  readonly ready: Promise<SubscribedEvent>
  /** Stops delivery and tells the server. */
  unsubscribe(): void
}

/** A signal from another connection. */
export interface SignalEvent<D = unknown> {
  readonly stream: string
  readonly from: string
  readonly data: D
}

/**
 * Who is connected to a stream: after every presence frame (a snapshot on each (re)subscribe, then
 * the server's coalesced diffs).
 */
export interface PresenceEvent {
  readonly stream: string
  /** Connected users with their number of connected clients; all of them when `complete`. */
  readonly users: readonly PresenceEntry[]
  /** How many users and clients are connected, counted by the server (authoritative). */
  readonly count: PresenceCount
  /**
   * Whether `users` lists everyone. False when the stream has more users than the server lists in
   * a snapshot (page through them with `GET /v1/presence/<stream>`), or when the stream's presence
   * only counts; `count` is exact either way.
   */
  readonly complete: boolean
}

/** Events of a {@link StreamHandle}. */
export interface StreamEvents {
  /** Presence after every change: the users, the counts, and whether the list is complete. */
  presence: PresenceEvent
  /** An ephemeral signal from someone else on this stream. */
  signal: SignalEvent
  /** Each completed (re)subscribe. */
  subscribed: SubscribedEvent
  /** A problem on this stream: a refused subscribe, a failing snapshot, a throwing callback. */
  error: Error
}

/**
 * How the client drives a stream handle. Not part of the handle's public surface: the handle gives
 * it to its client once, through {@link StreamContext.attach}.
 */
export interface StreamController {
  /** The connection opened: (re)subscribe from the position. */
  opened(): void
  /** The connection was lost. */
  disconnected(): void
  /** A frame for this stream. */
  receive(frame: ServerFrame): void
  /** The client is closing: stop without telling the server. */
  close(): void
}

/** What a stream handle needs from its client. */
export interface StreamContext {
  send(frame: ClientFrame): boolean
  readonly positions: PositionStore
  readonly acks: AckBatcher
  readonly outbox: Outbox
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: BackoffOptions
  readonly isOpen: () => boolean
  /** Receives the handle's controller, once, from its constructor. */
  attach(controller: StreamController): void
}

/**
 * One stream, as seen by the app: subscribe (callbacks or `for await`), publish, signal, presence.
 * Get it with `client.stream<T>(name)`; the same name gives the same handle.
 */
export class StreamHandle<T = unknown> {
  readonly name: string
  readonly #ctx: StreamContext
  readonly #events = new Emitter<StreamEvents>()
  readonly #presence = new Map<string, number>()
  #count: PresenceCount = NOBODY
  #complete = true
  #subscription: StreamSubscription | undefined

  /** Handles are made by `client.stream(name)`. */
  constructor(name: string, ctx: StreamContext) {
    this.name = name
    this.#ctx = ctx
    ctx.attach({
      opened: () => this.#subscription?.opened(),
      disconnected: () => {
        this.#subscription?.disconnected()
        // Nothing is known while disconnected; the next subscribe brings a snapshot.
        this.#presence.clear()
        this.#count = NOBODY
        this.#complete = true
      },
      receive: (frame) => this.#receive(frame),
      close: () => {
        this.#subscription?.end()
        this.#events.clear()
      },
    })
  }

  /**
   * Follows the stream: every message exactly once, in order, across reconnects and reloads.
   *
   * @example
   * room.subscribe({
   *   onMessage: (m) => render(m.data),
   *   snapshot: async () => (await fetch('/api/room/state')).json(), // { position, items }
   *   onReset: (e) => replaceAll(e.snapshot?.items ?? []),
   * })
   */
  subscribe<S extends SnapshotResult = SnapshotResult>(
    options: SubscribeOptions<T, S>,
  ): Subscription {
    return this.#subscribe(
      options as unknown as SubscribeOptions<unknown, SnapshotResult>,
      () => {},
    )
  }

  /**
   * The same as `subscribe`, as an async iterator. A message counts as processed when the loop body
   * that received it finishes; leaving the loop unsubscribes.
   *
   * @example
   * for await (const message of room.messages({ from: 'earliest' })) console.log(message.data)
   */
  messages<S extends SnapshotResult = SnapshotResult>(
    options: Omit<SubscribeOptions<T, S>, 'onMessage'> = {},
  ): AsyncIterableIterator<Message<T>> {
    const unsubscribe = { current: (): void => {} }
    const channel = messageIterator<T>(() => unsubscribe.current())
    const subscription = this.#subscribe(
      { ...options, onMessage: channel.onMessage } as unknown as SubscribeOptions<
        unknown,
        SnapshotResult
      >,
      channel.end,
    )
    unsubscribe.current = subscription.unsubscribe
    return channel.iterator
  }

  /** Publishes through the outbox; resolves with the committed offset. Queued while offline. */
  publish(data: T): Promise<PublishResult> {
    return this.#ctx.outbox.publish(this.name, data)
  }

  /** Sends an ephemeral signal (never stored). Returns false when not connected: it is dropped. */
  signal(data: unknown): boolean {
    return this.#ctx.send({ t: 'signal', stream: this.name, data })
  }

  /**
   * Connected users and their number of clients (empty until subscribed, and while disconnected).
   * Only the first users by id when {@link presenceComplete} is false.
   */
  presence(): PresenceEntry[] {
    return [...this.#presence].map(([user, clients]) => ({ user, clients }))
  }

  /** How many users and clients are connected, as counted by the server. */
  presenceCount(): PresenceCount {
    return this.#count
  }

  /** Whether {@link presence} lists every connected user (see {@link PresenceEvent.complete}). */
  presenceComplete(): boolean {
    return this.#complete
  }

  /** Last processed position, if any. */
  position(): Promise<Position | undefined> {
    return this.#ctx.positions.load(this.name)
  }

  /** Listens to a stream event; returns the disposer. */
  on<K extends keyof StreamEvents>(event: K, listener: (arg: StreamEvents[K]) => void): Disposer {
    return this.#events.on(event, listener)
  }

  #receive(frame: ServerFrame): void {
    switch (frame.t) {
      case 'msg':
      case 'caughtUp':
      case 'reset':
        this.#subscription?.receive(frame)
        return
      case 'presence':
        this.#presence.clear()
        for (const entry of frame.users) this.#presence.set(entry.user, entry.clients)
        this.#count = frame.count
        this.#complete = frame.complete
        this.#presenceChanged()
        return
      case 'presenceDiff':
        // Each change is a user's new number of clients: a join, an update, or 0 for a leave.
        for (const change of frame.changes) {
          if (change.clients > 0) this.#presence.set(change.user, change.clients)
          else this.#presence.delete(change.user)
        }
        this.#count = frame.count
        this.#presenceChanged()
        return
      case 'signal':
        this.#events.emit('signal', { stream: frame.stream, from: frame.from, data: frame.data })
        return
      case 'error':
        if (this.#subscription !== undefined) this.#subscription.refused(frame)
        else {
          const details = { stream: frame.stream }
          this.#events.emit('error', new SeqlineError(frame.code, frame.message, { details }))
        }
        return
      default:
    }
  }

  #presenceChanged(): void {
    // The list costs O(members): build it only for someone who listens.
    if (!this.#events.has('presence')) return
    this.#events.emit('presence', {
      stream: this.name,
      users: this.presence(),
      count: this.#count,
      complete: this.#complete,
    })
  }

  #subscribe(options: SubscribeOptions<unknown, SnapshotResult>, end: () => void): Subscription {
    if (this.#subscription !== undefined) {
      throw new ClientError(
        ClientErrorCode.ALREADY_SUBSCRIBED,
        `stream ${this.name} already has a subscription; unsubscribe it first`,
      )
    }
    const subscription = new StreamSubscription(
      {
        stream: this.name,
        send: (frame) => this.#ctx.send(frame),
        isOpen: () => this.#ctx.isOpen(),
        positions: this.#ctx.positions,
        acks: this.#ctx.acks,
        clock: this.#ctx.clock,
        random: this.#ctx.random,
        backoff: this.#ctx.backoff,
        subscribed: (event) => this.#events.emit('subscribed', event),
        error: (error) => this.#events.emit('error', error),
      },
      options,
      () => {
        if (this.#subscription === subscription) this.#subscription = undefined
        end()
      },
    )
    this.#subscription = subscription
    return {
      ready: subscription.ready,
      unsubscribe: () => {
        if (this.#subscription !== subscription) return
        this.#ctx.acks.flush()
        this.#ctx.send({ t: 'unsub', stream: this.name })
        subscription.end()
      },
    }
  }
}
