import {
  type Clock,
  type ClientOptions,
  createClient,
  MemoryStorage,
  type SeqlineClient,
  systemClock,
  type WebSocketConstructor,
} from '@seqline/client'
import { WebSocket } from 'ws'
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.js'

/** Which transport an acceptance run uses. */
export type TransportMode = 'websocket' | 'http'

/**
 * A `ws` constructor that remembers the socket it made last, so a test can cut it without a close
 * frame (`terminate()` destroys the TCP socket) — through the SDK's public `WebSocket` option.
 */
export function trackedWebSocket(): {
  readonly WebSocket: WebSocketConstructor
  /** Destroys the current socket, if any, without a close frame. Returns whether there was one. */
  destroy(): boolean
} {
  let current: WebSocket | undefined
  const remember = (socket: WebSocket): void => {
    current = socket
  }
  class Tracked extends WebSocket {
    constructor(url: string) {
      super(url)
      remember(this)
    }
  }
  return {
    WebSocket: Tracked as unknown as WebSocketConstructor,
    destroy() {
      const socket = current
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) return false
      socket.terminate()
      return true
    },
  }
}

/**
 * The system clock until `kill()`: then every pending timer is dropped and new ones never fire. A
 * client on a killed clock (and with its socket cut) is as dead as the page of a reloaded tab, while
 * the object still exists — "discarded without close()".
 */
export function killableClock(): Clock & { kill(): void } {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let dead = false
  return {
    now: () => systemClock.now(),
    setTimeout(callback, ms) {
      if (dead) return undefined
      const handle = setTimeout(() => {
        timers.delete(handle)
        if (!dead) callback()
      }, ms)
      timers.add(handle)
      return handle
    },
    clearTimeout(handle) {
      if (handle === undefined) return
      clearTimeout(handle as ReturnType<typeof setTimeout>)
      timers.delete(handle as ReturnType<typeof setTimeout>)
    },
    kill() {
      dead = true
      for (const handle of timers) clearTimeout(handle)
      timers.clear()
    },
  }
}

/** Creates clients for one test and closes them (and their proxies) afterwards. */
export class ClientHarness {
  readonly #clients: SeqlineClient[] = []
  readonly #proxies: TcpProxy[] = []

  constructor(
    readonly mode: TransportMode,
    /** The server's base URL. */
    readonly serverUrl: string,
    readonly serverPort: number,
  ) {}

  /** A client in this run's transport mode with short test timings; `options` win. */
  client(options: Partial<ClientOptions> & { token: string }): SeqlineClient {
    const client = createClient({
      url: this.serverUrl,
      storage: new MemoryStorage(),
      backoff: { baseMs: 50, maxMs: 1000 },
      ackDelayMs: 20,
      environment: null,
      transport: this.mode,
      ...options,
    })
    this.#clients.push(client)
    return client
  }

  /** A TCP proxy to the server, closed after the test. */
  async proxy(): Promise<TcpProxy> {
    const proxy = await startTcpProxy(this.serverPort)
    this.#proxies.push(proxy)
    return proxy
  }

  async dispose(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((c) => c.close()))
    await Promise.all(this.#proxies.splice(0).map((p) => p.close()))
  }
}

/** Resolves once the client's state is `open`. */
export function whenOpen(client: SeqlineClient): Promise<void> {
  if (client.state.kind === 'open') return Promise.resolve()
  return new Promise((resolve) => {
    const off = client.on('state', ({ to }) => {
      if (to.kind !== 'open') return
      off()
      resolve()
    })
  })
}

/** Resolves when `predicate` holds, checked after every call of the returned `changed()`. */
export function condition(predicate: () => boolean): {
  readonly reached: Promise<void>
  changed(): void
} {
  let resolve!: () => void
  const reached = new Promise<void>((r) => (resolve = r))
  const changed = (): void => {
    if (predicate()) resolve()
  }
  changed()
  return { reached, changed }
}

/** `[from, from + 1, …, to - 1]` */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)
}
