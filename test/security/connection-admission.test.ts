import { randomBytes } from 'node:crypto'
import {
  type IncomingHttpHeaders,
  type Server,
  createServer as createHttpServer,
  request,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { ErrorFrame } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { ServerSettingsInput } from '../../packages/server/src/settings/server-settings.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { connectRaw } from '../support/ws-test-client.js'

// F10: unauthenticated sockets were held forever, upgrades on other paths were never answered,
// and nothing capped connections. Now a connection that says no hello in time is closed (4009
// HELLO_TIMEOUT), an upgrade anywhere but /v1/ws is answered 404 at once (unless the host server
// has its own upgrade handler), and admission caps open connections per node and per address
// (TOO_MANY_CONNECTIONS) and connections still being admitted (503 OVERLOADED + Retry-After).

/** How an upgrade request went: switched (the socket is open), or refused with an HTTP answer. */
type UpgradeOutcome =
  | { readonly kind: 'upgraded'; readonly socket: Socket }
  | {
      readonly kind: 'refused'
      readonly status: number
      readonly headers: IncomingHttpHeaders
      readonly body: string
    }

/** Sends a WebSocket upgrade request for `path` and resolves with the server's answer. */
function upgrade(port: number, path: string): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      // A connection of its own: a refused upgrade must not leave a socket to the next request.
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
      },
    })
    req.once('upgrade', (_res, socket) => {
      socket.on('error', () => undefined)
      resolve({ kind: 'upgraded', socket })
    })
    req.once('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.once('end', () =>
        resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, body }),
      )
    })
    req.once('error', reject)
    req.end()
  })
}

const servers: SeqlineServer[] = []
const sockets: Socket[] = []

async function start(
  connections: ServerSettingsInput['connections'],
): Promise<{ server: SeqlineServer; port: number; wsUrl: string }> {
  const server = await createServer({
    store: 'memory:',
    auth: 'dev',
    logLevel: 'silent',
    connections,
  })
  servers.push(server)
  const { port } = await server.listen(0, '127.0.0.1')
  return { server, port, wsUrl: `ws://127.0.0.1:${port}/v1/ws` }
}

/** Opens `count` WebSockets that say nothing. */
async function silent(port: number, count: number): Promise<Socket[]> {
  const opened: Socket[] = []
  for (let i = 0; i < count; i += 1) {
    const outcome = await upgrade(port, '/v1/ws')
    if (outcome.kind !== 'upgraded') throw new Error(`upgrade ${i} refused: ${outcome.status}`)
    opened.push(outcome.socket)
    sockets.push(outcome.socket)
  }
  return opened
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const server of servers.splice(0)) await server.close()
})

describe('connection admission (F10)', () => {
  it('closes a connection that says no hello in time with HELLO_TIMEOUT and 4009', async () => {
    const { wsUrl } = await start({ helloTimeoutMs: 300 })
    const client = await connectRaw(wsUrl)
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'HELLO_TIMEOUT' })
    expect(await client.closed).toMatchObject({ code: 4009, reason: 'HELLO_TIMEOUT' })
  })

  it('answers an upgrade on any other path 404 at once', async () => {
    const { port } = await start({})
    for (const path of ['/', '/v1/wss', '/socket.io/?EIO=4&transport=websocket', '/v1/ws/x']) {
      const outcome = await upgrade(port, path)
      expect(outcome, path).toMatchObject({ kind: 'refused', status: 404 })
      if (outcome.kind === 'refused') expect(JSON.parse(outcome.body).error.code).toBe('NOT_FOUND')
    }
  })

  it('leaves other paths to the host server’s own upgrade handler', async () => {
    const host: Server = createHttpServer()
    host.on('upgrade', (req, socket) => {
      if (req.url === '/app-socket')
        socket.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 0\r\n\r\n')
    })
    const server = await createServer({ store: 'memory:', auth: 'dev', logLevel: 'silent' })
    servers.push(server)
    server.attach(host)
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve))
    const { port } = host.address() as AddressInfo
    try {
      expect(await upgrade(port, '/app-socket')).toMatchObject({ kind: 'refused', status: 418 })
      const seqline = await upgrade(port, '/v1/ws')
      expect(seqline.kind).toBe('upgraded')
      if (seqline.kind === 'upgraded') seqline.socket.destroy()
    } finally {
      host.closeAllConnections()
      await new Promise<void>((resolve) => host.close(() => resolve()))
    }
  })

  it('refuses connections past the per-address cap with 429 TOO_MANY_CONNECTIONS', async () => {
    const { port } = await start({ maxConnectionsPerAddress: 3 })
    const [first] = await silent(port, 3)
    const refused = await upgrade(port, '/v1/ws')
    expect(refused).toMatchObject({ kind: 'refused', status: 429 })
    if (refused.kind === 'refused') {
      expect(JSON.parse(refused.body).error).toMatchObject({
        code: 'TOO_MANY_CONNECTIONS',
        message: 'too many connections from this address',
      })
    }
    // A slot frees when a connection ends.
    const closed = new Promise((resolve) => first?.once('close', resolve))
    first?.destroy()
    await closed
    await expect.poll(async () => (await upgrade(port, '/v1/ws')).kind).toBe('upgraded')
  })

  it('refuses connections past the per-node cap with 429 TOO_MANY_CONNECTIONS', async () => {
    const { port, wsUrl } = await start({ maxConnections: 2 })
    const greeted = await connectRaw(wsUrl)
    greeted.send({ t: 'hello', token: 'alice' })
    await greeted.next('welcome')
    await silent(port, 1)
    const refused = await upgrade(port, '/v1/ws')
    expect(refused).toMatchObject({ kind: 'refused', status: 429 })
    if (refused.kind === 'refused') {
      expect(JSON.parse(refused.body).error.message).toBe('this node is at its connection limit')
    }
    await greeted.close()
  })

  it('answers 503 OVERLOADED with Retry-After past the pending-hello cap', async () => {
    const { port, wsUrl } = await start({ maxPendingHellos: 2 })
    await silent(port, 2)
    const refused = await upgrade(port, '/v1/ws')
    expect(refused).toMatchObject({ kind: 'refused', status: 503 })
    if (refused.kind === 'refused') {
      expect(JSON.parse(refused.body).error.code).toBe('OVERLOADED')
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    }
    // Greeted connections do not count as pending: once admitted, a client makes room.
    const [pending] = sockets
    const closed = new Promise((resolve) => pending?.once('close', resolve))
    pending?.destroy()
    await closed
    const client = await connectRaw(wsUrl)
    client.send({ t: 'hello', token: 'alice' })
    await client.next('welcome')
    expect((await upgrade(port, '/v1/ws')).kind).toBe('upgraded')
    await client.close()
  })
})
