import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { refuseUpgrade } from './no-websocket-proxy.js'

/** A running {@link startBufferingProxy}. */
export interface BufferingProxy {
  /** The proxy's base URL: use it instead of the server's. */
  readonly url: string
  /** Responses held until their end so far. */
  readonly held: number
  close(): Promise<void>
}

/**
 * An HTTP proxy that holds every response until it has ended, then sends it whole — as some
 * corporate proxies and anti-virus gateways do. An SSE response, which never ends by itself, gets
 * through only when the server ends it; a long-poll answer gets through as usual. A client that
 * gives up a request makes the proxy give up its upstream request too. WebSocket upgrades are
 * refused (`403`): a proxy that holds responses cannot relay a socket either.
 *
 * @example
 * const proxy = await startBufferingProxy(server.url)
 * createClient({ url: proxy.url, getToken, transport: 'http' })
 */
export async function startBufferingProxy(target: string): Promise<BufferingProxy> {
  const upstream = new URL(target)
  const sockets = new Set<Socket>()
  let held = 0
  const server: Server = createServer((req, res) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        answer.on('end', () => {
          held += 1
          const body = Buffer.concat(chunks)
          res.writeHead(answer.statusCode ?? 502, {
            ...withoutHopHeaders(answer.headers),
            'content-length': String(body.length),
          })
          res.end(body)
        })
        answer.on('error', () => res.destroy())
      },
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
    res.on('close', () => forward.destroy())
  })
  server.on('upgrade', (_req, socket: Socket) => refuseUpgrade(socket))
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get held() {
      return held
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const {
    connection: _connection,
    'transfer-encoding': _encoding,
    'keep-alive': _keepAlive,
    'content-length': _length,
    ...rest
  } = headers
  return rest
}
