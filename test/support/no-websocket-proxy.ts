import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** A running {@link startNoWebSocketProxy}. */
export interface NoWebSocketProxy {
  /** The proxy's base URL: open pages and point clients here instead of at the server. */
  readonly url: string
  /** WebSocket upgrades refused so far. */
  readonly refusedUpgrades: number
  /** Every request forwarded so far, as `METHOD /path` (query left out), in arrival order. */
  readonly requests: readonly string[]
  /** The largest number of requests that were open through the proxy at the same time. */
  readonly maxConcurrent: number
  close(): Promise<void>
}

/**
 * An HTTP/1.1 proxy that forwards requests and streams their responses as they come (SSE gets
 * through byte by byte) but refuses every WebSocket upgrade with `403` — as a corporate proxy that
 * only speaks plain HTTP does. Browsers see their WebSocket fail at once.
 *
 * @example
 * const proxy = await startNoWebSocketProxy(server.url)
 * await page.goto(`${proxy.url}/`)
 */
export async function startNoWebSocketProxy(target: string): Promise<NoWebSocketProxy> {
  const upstream = new URL(target)
  const sockets = new Set<Socket>()
  const requests: string[] = []
  let refused = 0
  let open = 0
  let maxConcurrent = 0
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`)
    open += 1
    maxConcurrent = Math.max(maxConcurrent, open)
    res.on('close', () => {
      open -= 1
    })
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, withoutHopHeaders(answer.headers))
        res.flushHeaders()
        answer.pipe(res)
        answer.on('error', () => res.destroy())
      },
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
    res.on('close', () => forward.destroy())
  })
  server.on('upgrade', (_req, socket: Duplex) => {
    refused += 1
    refuseUpgrade(socket)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get refusedUpgrades() {
      return refused
    },
    requests,
    get maxConcurrent() {
      return maxConcurrent
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Answers a WebSocket upgrade request with `403` and closes the connection. */
export function refuseUpgrade(socket: Duplex): void {
  socket.on('error', () => {})
  socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
}

function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const {
    connection: _connection,
    'transfer-encoding': _encoding,
    'keep-alive': _keepAlive,
    ...rest
  } = headers
  return rest
}
