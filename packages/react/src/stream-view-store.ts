import type { Message, SeqlineClient, StartFrom, Subscription } from '@seqline/client'
import type { OlderPage, SnapshotRequest, StreamSnapshot } from './stream-snapshot.js'
import type { SyncTracker } from './sync-tracker.js'

/**
 * Where a followed stream is:
 * - `idle`: no stream given;
 * - `loading`: fetching the first snapshot (retried until it succeeds);
 * - `syncing`: subscribed, replaying what was missed (after the first load or a reconnect);
 * - `live`: caught up; new messages arrive as they are committed;
 * - `error`: the server refused the subscription (e.g. FORBIDDEN); see `error`.
 */
export type StreamStatus = 'idle' | 'loading' | 'syncing' | 'live' | 'error'

/** What {@link useStream} returns. */
export interface StreamView<T> {
  readonly stream: string | undefined
  /** Oldest first; each offset once; gapless from the first one to the last. */
  readonly messages: readonly Message<T>[]
  readonly status: StreamStatus
  /** The last problem (a refused subscription, a failing snapshot being retried). */
  readonly error: Error | undefined
  /** Older messages can be loaded with `loadOlder()`. */
  readonly hasOlder: boolean
  readonly loadingOlder: boolean
  /** How many times the stream was reset and replaced from a snapshot. */
  readonly resets: number
  /** Prepends the page below the first message (needs the `older` option). */
  loadOlder(): Promise<void>
}

/** Options of {@link useStream}. Read at every call: they need not be memoised. */
export interface UseStreamOptions<T> {
  /**
   * Where to start when there is no snapshot and no stored position. Default: the server's cursor
   * of this client, else `'latest'` (see `SubscribeOptions.from`).
   */
  readonly from?: StartFrom
  /**
   * Loads the latest page (or the page as of a position). With it, the view starts from a snapshot
   * and goes live exactly after it, and a `reset` is resolved through the SDK's snapshot path.
   * {@link historySnapshot} is one backed by the server's `/v1/history` endpoint.
   */
  readonly snapshot?: (request: SnapshotRequest) => Promise<StreamSnapshot<T>>
  /** Loads messages below an offset, for `loadOlder()`. */
  readonly older?: (stream: string, before: number) => Promise<OlderPage<T>>
  /** Called once per new message, after it is added (notifications, sounds, counters). */
  readonly onMessage?: (message: Message<T>) => void
  /** Oldest messages are dropped from the view beyond this many. Default 5000. */
  readonly maxMessages?: number
}

const NO_MESSAGES: readonly never[] = []
const RETRY_MS = [500, 1_000, 2_000, 4_000, 8_000] as const

const DEFAULT_MAX_MESSAGES = 5_000

let nextKey = 0

/**
 * The state behind one {@link useStream}: an external store (for `useSyncExternalStore`) that
 * follows one stream while started. Changes are published at most once per microtask, so a
 * replay of a thousand messages renders once, not a thousand times.
 */
export class StreamViewStore<T> {
  #view: StreamView<T>
  readonly #listeners = new Set<() => void>()
  #scheduled = false
  #session: { stopped: boolean } | undefined
  #older: ((before: number) => Promise<OlderPage<T>>) | undefined
  #options: (() => UseStreamOptions<T>) | undefined
  /** Messages received since the last publish of the view. */
  #pending: Message<T>[] = []

  constructor(stream: string | undefined) {
    this.#view = {
      stream,
      messages: NO_MESSAGES,
      status: 'idle',
      error: undefined,
      hasOlder: false,
      loadingOlder: false,
      resets: 0,
      loadOlder: () => this.#loadOlder(),
    }
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  readonly getView = (): StreamView<T> => this.#view

  /**
   * Follows the stream until the returned function runs. `options()` is read whenever an option is
   * needed, so the caller can pass the latest render's options.
   */
  start(client: SeqlineClient, options: () => UseStreamOptions<T>, sync: SyncTracker): () => void {
    const stream = this.#view.stream
    if (stream === undefined) return () => {}
    const session = { stopped: false }
    this.#session = session
    this.#options = options
    const key = `${stream}#${nextKey++}`
    const handle = client.stream<T>(stream)
    const disposers: (() => void)[] = []
    let subscription: Subscription | undefined
    let retry: ReturnType<typeof setTimeout> | undefined
    let attempt = 0

    this.#older = (before) => {
      const older = options().older
      if (older === undefined) return Promise.resolve({ messages: [], hasOlder: false })
      return older(stream, before)
    }
    this.#set({ messages: NO_MESSAGES, status: 'loading', error: undefined, hasOlder: false })
    sync.set(key, true)

    disposers.push(
      client.on('state', ({ from, to }) => {
        if (from.kind === 'open' && to.kind !== 'open' && this.#view.status === 'live') {
          // Until the resubscribe completes, what is shown may be behind.
          this.#set({ status: 'syncing' })
          sync.set(key, true)
        }
        // A snapshot that failed while offline is worth trying again as soon as we are back.
        if (to.kind === 'open' && retry !== undefined) {
          clearTimeout(retry)
          retry = undefined
          void load()
        }
      }),
    )

    const subscribe = (from: StartFrom | undefined): void => {
      const snapshot = options().snapshot
      subscription = handle.subscribe<StreamSnapshot<T> & { position: NonNullable<unknown> }>({
        ...(from === undefined ? {} : { from }),
        onMessage: (message) => {
          this.#append(message)
          options().onMessage?.(message)
        },
        ...(snapshot === undefined
          ? {}
          : {
              snapshot: async (reset) => {
                const result = await snapshot({ kind: 'reset', stream, reset })
                // No position: the snapshot is empty; everything retained is replayed after it.
                const position = result.position ?? {
                  epoch: reset.epoch,
                  offset: Math.max(0, reset.tail - 1),
                }
                return { ...result, position }
              },
            }),
        onReset: (event) => {
          this.#set({
            messages: event.snapshot?.messages ?? NO_MESSAGES,
            hasOlder: event.snapshot?.hasOlder ?? false,
            resets: this.#view.resets + 1,
          })
        },
        onSubscribed: () => {
          if (session.stopped) return
          this.#set({ status: 'live', error: undefined })
          sync.set(key, false)
        },
      })
      this.#set({ status: 'syncing' })
      subscription.ready.catch((error: Error) => {
        if (session.stopped) return
        this.#set({ status: 'error', error })
        sync.set(key, false)
      })
    }

    const load = async (): Promise<void> => {
      const snapshot = options().snapshot
      if (snapshot === undefined) {
        subscribe(options().from)
        return
      }
      try {
        const position = await handle.position()
        const result = await snapshot(
          position === undefined
            ? { kind: 'initial', stream }
            : { kind: 'resume', stream, position },
        )
        if (session.stopped) return
        this.#set({ messages: result.messages, hasOlder: result.hasOlder })
        // With a stored position the SDK resumes from it and `from` is not used.
        subscribe(position === undefined ? (result.position ?? 'earliest') : undefined)
      } catch (error) {
        if (session.stopped) return
        this.#set({ error: error as Error })
        const delay = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]
        retry = setTimeout(() => {
          retry = undefined
          void load()
        }, delay)
      }
    }
    void load()

    return () => {
      session.stopped = true
      if (retry !== undefined) clearTimeout(retry)
      for (const dispose of disposers) dispose()
      subscription?.unsubscribe()
      sync.set(key, false)
    }
  }

  #append(message: Message<T>): void {
    const messages = this.#view.messages
    const last = this.#pending.at(-1) ?? messages.at(-1)
    // The SDK delivers each offset once; a view seeded from a snapshot must not repeat one either.
    if (last !== undefined && last.epoch === message.epoch && message.offset <= last.offset) return
    this.#pending.push(message)
    this.#schedule()
  }

  async #loadOlder(): Promise<void> {
    const view = this.#view
    const first = view.messages[0]
    if (this.#older === undefined || !view.hasOlder || view.loadingOlder || first === undefined) {
      return
    }
    const session = this.#session
    this.#set({ loadingOlder: true })
    try {
      const page = await this.#older(first.offset)
      if (this.#session !== session || session?.stopped === true) return
      const current = this.#view.messages
      // A reset may have replaced the messages meanwhile: only prepend what fits below them.
      const head = current[0]
      const fits = page.messages.filter(
        (m) => head === undefined || (m.epoch === head.epoch && m.offset < head.offset),
      )
      this.#set({
        messages: [...fits, ...current],
        hasOlder: page.hasOlder,
        loadingOlder: false,
      })
    } catch (error) {
      this.#set({ loadingOlder: false, error: error as Error })
    }
  }

  #set(patch: Partial<Omit<StreamView<T>, 'loadOlder' | 'stream'>>): void {
    if (patch.messages !== undefined) this.#pending = []
    this.#view = { ...this.#view, ...patch }
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      if (this.#pending.length > 0) {
        const max = this.#options?.().maxMessages ?? DEFAULT_MAX_MESSAGES
        const merged = [...this.#view.messages, ...this.#pending]
        this.#pending = []
        const dropped = Math.max(0, merged.length - max)
        this.#view = {
          ...this.#view,
          messages: dropped > 0 ? merged.slice(dropped) : merged,
          hasOlder: this.#view.hasOlder || dropped > 0,
        }
      }
      for (const listener of [...this.#listeners]) listener()
    })
  }
}
