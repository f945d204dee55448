import type { Transport, TransportHandlers, TransportLink } from '@seqline/client'
import type { WireStats } from './wire-stats.js'

type ServerFrame = Parameters<TransportHandlers['onFrame']>[0]
type ClientFrame = Parameters<TransportLink['send']>[0]

/** Options of {@link ChaosTransport}. */
export interface ChaosOptions {
  /** The real transport. */
  readonly inner: Transport
  readonly stats: WireStats
  /** While true, links fail at once ("offline" switch): not a single frame goes out. */
  readonly blocked: () => boolean
  /** Range of the delay between two kills while chaos is on. */
  readonly killEveryMs?: { readonly min: number; readonly max: number }
  /** Share of `msg` frames delivered twice while chaos is on (an at-least-once wire). */
  readonly duplicateRate?: number
}

interface StreamWatch {
  /** The position the SDK has accepted up to, mirrored from its rules (dedup, gap). */
  position: number | undefined
  /** A `sub` with a position is in flight: counts what the server replays for it. */
  catchUp: { replayed: number } | undefined
}

/**
 * A {@link Transport} around the page's real one (WebSocket, or the HTTP session behind the
 * "proxy" switch), for the demo's debug drawer:
 *
 * - **chaos**: kills the socket every few seconds (as a flaky network or a crashing proxy would),
 *   and while it is on delivers some `msg` frames twice (an at-least-once relay). It does not
 *   drop single frames: a WebSocket over TCP loses frames only by dying, which kills do;
 * - **counters**: mirrors the SDK's per-stream position to count what it receives, what it drops
 *   as a duplicate, and which gaps its catch-ups heal.
 *
 * It only wraps the public `Transport` seam of `@seqline/client`: the SDK is unchanged.
 */
export class ChaosTransport implements Transport {
  readonly #options: ChaosOptions
  readonly #streams = new Map<string, StreamWatch>()
  #current: { link: TransportLink; handlers: TransportHandlers } | undefined
  #chaos: ReturnType<typeof setTimeout> | undefined
  #kill: (() => void) | undefined

  constructor(options: ChaosOptions) {
    this.#options = options
  }

  /** The inner transport's name: `'websocket'`, `'sse'` or `'long-poll'`. */
  get name(): string {
    return this.#options.inner.name
  }

  get chaos(): boolean {
    return this.#chaos !== undefined
  }

  connect(handlers: TransportHandlers): TransportLink {
    if (this.#options.blocked()) {
      // Like a dead network: the link never comes up.
      const timer = setTimeout(() => handlers.onClose({ code: 1006, reason: 'offline' }), 0)
      return { send: () => {}, close: () => clearTimeout(timer) }
    }
    let live = true
    const wrapped: TransportHandlers = {
      onOpen: () => {
        if (!live) return
        this.#options.stats.add('connections')
        handlers.onOpen()
      },
      onFrame: (frame) => {
        if (live) this.#receive(frame, handlers)
      },
      onTransportChange: (name) => {
        if (live) handlers.onTransportChange?.(name)
      },
      onClose: (info) => {
        if (!live) return
        live = false
        if (this.#current?.handlers === handlers) this.#current = undefined
        handlers.onClose(info)
      },
    }
    const link = this.#options.inner.connect(wrapped)
    const current = {
      handlers,
      link: {
        send: (frame: ClientFrame) => {
          if (!live || this.#options.blocked()) return
          this.#sent(frame)
          link.send(frame)
        },
        close: (code?: number, reason?: string) => {
          live = false
          if (this.#current === current) this.#current = undefined
          link.close(code, reason)
        },
      },
      kill: () => {
        if (!live) return
        live = false
        this.#current = undefined
        link.close(4999, 'chaos')
        handlers.onClose({ code: 1006, reason: 'killed by the chaos switch' })
      },
    }
    this.#current = current
    this.#kill = current.kill
    return current.link
  }

  /** Kills the current connection, as a network failure would. */
  kill(): void {
    const kill = this.#kill
    this.#kill = undefined
    if (kill === undefined || this.#current === undefined) return
    this.#options.stats.add('kills')
    kill()
  }

  /** Turns chaos on or off. */
  setChaos(on: boolean): void {
    if (on === this.chaos) return
    if (!on) {
      clearTimeout(this.#chaos)
      this.#chaos = undefined
      return
    }
    const { min, max } = this.#options.killEveryMs ?? { min: 2_000, max: 5_000 }
    const next = (): void => {
      this.#chaos = setTimeout(
        () => {
          this.kill()
          next()
        },
        min + Math.random() * (max - min),
      )
    }
    next()
  }

  /** A `sub` carries the SDK's position: from there on, what arrives is a replay. */
  #sent(frame: ClientFrame): void {
    if (frame.t !== 'sub') return
    const watch = this.#watch(frame.stream)
    if (typeof frame.from === 'object') {
      watch.position = frame.from.offset
      watch.catchUp = { replayed: 0 }
    } else {
      watch.position = undefined
      watch.catchUp = undefined
    }
  }

  #receive(frame: ServerFrame, handlers: TransportHandlers): void {
    if (frame.t !== 'msg') {
      this.#observe(frame)
      handlers.onFrame(frame)
      return
    }
    if (this.chaos && Math.random() < (this.#options.duplicateRate ?? 0.05)) {
      this.#observe(frame)
      handlers.onFrame(frame)
    }
    this.#observe(frame)
    handlers.onFrame(frame)
  }

  /** Mirrors the SDK's delivery rules (dedup by offset, gap → catch-up) to count what happens. */
  #observe(frame: ServerFrame): void {
    const stats = this.#options.stats
    switch (frame.t) {
      case 'msg': {
        stats.add('received')
        const watch = this.#watch(frame.stream)
        if (watch.position === undefined) watch.position = frame.offset
        else if (frame.offset <= watch.position) stats.add('duplicatesDropped')
        else if (frame.offset === watch.position + 1) {
          watch.position = frame.offset
          if (watch.catchUp !== undefined) watch.catchUp.replayed += 1
        } else if (watch.catchUp === undefined) {
          stats.add('gapsDetected')
          // The SDK now re-subscribes from its position; the next `sub` frame resets the watch.
        }
        return
      }
      case 'caughtUp': {
        const watch = this.#watch(frame.stream)
        if (watch.catchUp !== undefined && watch.catchUp.replayed > 0) {
          stats.add('gapsHealed')
          stats.add('replayed', watch.catchUp.replayed)
        }
        watch.catchUp = undefined
        watch.position ??= frame.head
        return
      }
      case 'reset': {
        const watch = this.#watch(frame.stream)
        watch.catchUp = undefined
        watch.position = undefined
        return
      }
      default:
    }
  }

  #watch(stream: string): StreamWatch {
    let watch = this.#streams.get(stream)
    if (watch === undefined) {
      watch = { position: undefined, catchUp: undefined }
      this.#streams.set(stream, watch)
    }
    return watch
  }
}
