import { type Socket, connect } from 'node:net'
import { expect } from 'vitest'
import { type ServerProcess, startServerProcess } from './server-process.js'
import { type TcpWsClient, connectTcpWs } from './tcp-ws-client.js'

/**
 * A `seqline serve` for stalled-reader tests: messages up to `maxPayloadBytes`, publish limits out
 * of the way, heartbeats far apart (a stalled WebSocket reader cannot answer pings: these tests
 * are about buffering), and the JSON stream `stream` created by user `archivist`.
 */
export async function startReaderServer(
  stream: string,
  maxPayloadBytes: number,
): Promise<ServerProcess> {
  const server = await startServerProcess({
    args: [
      '--max-payload-bytes',
      String(maxPayloadBytes),
      '--publish-rate',
      '1000000',
      '--publish-burst',
      '1000000',
      '--heartbeat-ms',
      '300000',
    ],
  })
  const put = await fetch(`${server.url}/v1/stream/${stream}`, {
    method: 'PUT',
    headers: { authorization: 'Bearer archivist', 'content-type': 'application/json' },
  })
  expect(put.status).toBe(201)
  return server
}

/** A reader on a raw socket that stopped reading after the first bytes of the answer. */
export interface StalledRead {
  readonly socket: Socket
  /** What it read before it stopped. */
  readonly first: Buffer
}

/**
 * An HTTP/1.0 request (so the answer is not chunked) on a raw socket that stops reading after the
 * first bytes of the answer; the kernel buffers fill and the server's writes back up.
 */
export async function stalledHttpRead(
  url: string,
  path: string,
  token: string,
): Promise<StalledRead> {
  const { hostname, port } = new URL(url)
  const socket = connect({ host: hostname, port: Number(port) })
  socket.on('error', () => undefined)
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  const answered = new Promise<Buffer>((resolve) => {
    socket.once('data', (first: Buffer) => {
      socket.pause()
      resolve(first)
    })
  })
  socket.write(
    `GET ${path} HTTP/1.0\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  )
  return { socket, first: await answered }
}

/** A WebSocket client on a raw TCP socket, greeted with `token`. */
export async function greetedTcpWs(
  wsUrl: string,
  token: string,
  timeoutMs = 30_000,
): Promise<TcpWsClient> {
  const client = await connectTcpWs(wsUrl, timeoutMs)
  const welcome = client.next('welcome', timeoutMs)
  client.send({ t: 'hello', token })
  await welcome
  return client
}

/**
 * Subscribes `client` to `stream` from the start and stops reading once its first message
 * arrived: the server has started delivering to it, and its writes back up from then on.
 */
export async function subscribeAndStall(
  client: TcpWsClient,
  stream: string,
  timeoutMs = 30_000,
): Promise<TcpWsClient> {
  const first = client.next('msg', timeoutMs)
  client.send({ t: 'sub', stream, from: 'earliest' })
  await first
  client.pause()
  return client
}

/** A WebSocket subscriber of `stream` from the start that stops reading after its first message. */
export async function stalledSubscriber(
  wsUrl: string,
  token: string,
  stream: string,
  timeoutMs = 30_000,
): Promise<TcpWsClient> {
  return subscribeAndStall(await greetedTcpWs(wsUrl, token, timeoutMs), stream, timeoutMs)
}

/**
 * Reads a stalled SSE answer of a JSON stream on to the stream's head (the first `control` event
 * that says `upToDate`), then closes it. Every value must start with its number (`"17:…"`);
 * resolves with the numbers, in the order read.
 */
export function readSseToHead({ socket, first }: StalledRead): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const head = first.toString('latin1')
    let text = first.subarray(head.indexOf('\r\n\r\n') + 4).toString('utf8')
    const messages: number[] = []
    const parse = (): void => {
      let end = text.indexOf('\n\n')
      while (end >= 0) {
        const event = text.slice(0, end)
        text = text.slice(end + 2)
        end = text.indexOf('\n\n')
        const type = /^event: (\w+)/m.exec(event)?.[1]
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5))
          .join('\n')
        if (type === 'data') {
          for (const value of JSON.parse(data) as string[]) {
            messages.push(Number.parseInt(value, 10))
          }
        }
        if (type === 'control' && (JSON.parse(data) as { upToDate?: boolean }).upToDate) {
          socket.destroy()
          resolve(messages)
        }
      }
    }
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      parse()
    })
    socket.once('close', () => reject(new Error(`SSE ended after ${messages.length} messages`)))
    socket.resume()
    parse()
  })
}
