import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net'

/** Which way a blackholed pair swallows bytes. */
export type BlackholeDirection = 'both' | 'to-server' | 'to-client'

/** A TCP proxy in front of a server, with network faults on demand. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly url: string
  readonly port: number
  /** Connections currently open through the proxy. */
  readonly connectionCount: number
  /** Connections accepted since the start (including refused ones). */
  readonly accepted: number
  /**
   * Every connection open now keeps both sockets open but silently drops the bytes flowing in
   * `direction` (default both): no FIN, no RST — a dead NAT entry or a pulled cable. Connections
   * opened later are forwarded normally, unless `sticky`: then they are blackholed too until
   * `restore()` (an HTTP client opens new connections for new requests).
   */
  blackhole(direction?: BlackholeDirection, options?: { readonly sticky?: boolean }): void
  /** Ends a sticky blackhole: new connections are forwarded again. */
  restore(): void
  /** Destroys every open connection on both sides (RST where the platform allows). */
  resetAll(): void
  /** While on, new connections are reset at once (the server "is down"); existing ones are reset too. */
  refuse(on?: boolean): void
  /** Resolves on the next accepted connection. */
  nextConnection(): Promise<void>
  close(): Promise<void>
}

interface Pair {
  readonly client: Socket
  readonly server: Socket
  toServer: boolean
  toClient: boolean
}

/**
 * Starts a proxy on 127.0.0.1 (port 0) forwarding to `target` (`host:port` or a port number).
 *
 * @example
 * const proxy = await startTcpProxy(server.port)
 * const client = createClient({ url: proxy.url, token })
 * proxy.blackhole() // the client must notice by itself, from its heartbeat
 */
export async function startTcpProxy(
  target: number | { host: string; port: number },
): Promise<TcpProxy> {
  const upstream = typeof target === 'number' ? { host: '127.0.0.1', port: target } : target
  const pairs = new Set<Pair>()
  let refusing = false
  let sticky: BlackholeDirection | undefined
  let accepted = 0
  let waiters: (() => void)[] = []

  const kill = (socket: Socket): void => {
    // resetAndDestroy sends an RST instead of a FIN: the peer learns nothing gracefully.
    if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'closed') {
      try {
        socket.resetAndDestroy()
        return
      } catch {
        // A socket still connecting cannot be reset; destroy it instead.
      }
    }
    socket.destroy()
  }

  const server: Server = createServer((client) => {
    accepted += 1
    for (const wake of waiters.splice(0)) wake()
    client.on('error', () => {})
    if (refusing) {
      kill(client)
      return
    }
    const upstreamSocket = connect(upstream.port, upstream.host)
    upstreamSocket.on('error', () => {})
    const pair: Pair = {
      client,
      server: upstreamSocket,
      toServer: sticky === undefined || sticky === 'to-client',
      toClient: sticky === undefined || sticky === 'to-server',
    }
    pairs.add(pair)
    client.on('data', (chunk) => {
      if (pair.toServer) upstreamSocket.write(chunk)
    })
    upstreamSocket.on('data', (chunk) => {
      if (pair.toClient) client.write(chunk)
    })
    const end = (): void => {
      if (!pairs.delete(pair)) return
      kill(client)
      kill(upstreamSocket)
    }
    client.on('close', end)
    upstreamSocket.on('close', end)
    // A half-close (FIN) of one side is passed on only while the pair still forwards that way.
    client.on('end', () => {
      if (pair.toServer) upstreamSocket.end()
    })
    upstreamSocket.on('end', () => {
      if (pair.toClient) client.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    get connectionCount() {
      return pairs.size
    },
    get accepted() {
      return accepted
    },
    blackhole(direction = 'both', options = {}) {
      if (options.sticky === true) sticky = direction
      for (const pair of pairs) {
        if (direction !== 'to-client') pair.toServer = false
        if (direction !== 'to-server') pair.toClient = false
      }
    },
    restore() {
      sticky = undefined
    },
    resetAll() {
      for (const pair of [...pairs]) {
        pairs.delete(pair)
        kill(pair.client)
        kill(pair.server)
      }
    },
    refuse(on = true) {
      refusing = on
      if (on) proxy.resetAll()
    },
    nextConnection() {
      return new Promise((resolve) => waiters.push(resolve))
    },
    async close() {
      waiters = []
      proxy.resetAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return proxy
}
