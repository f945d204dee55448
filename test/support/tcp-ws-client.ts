import { createHash, randomBytes } from 'node:crypto'
import { type Socket, connect } from 'node:net'
import type { ServerFrame } from '@seqline/protocol'
import type { CloseInfo } from './ws-test-client.js'

/**
 * A minimal WebSocket client written on a plain TCP socket (RFC 6455: handshake, masked text
 * frames out, unmasked frames in, fragmentation, ping/pong, close). It exists for one thing the
 * `ws` client cannot do without touching private fields: stop reading the socket, like a stalled
 * consumer whose kernel receive buffer fills up, and later read again (`pause()` / `resume()`).
 */
export interface TcpWsClient {
  /** Sends a frame (serialised as JSON) or a raw string as one text frame. */
  send(frame: Record<string, unknown> | string): void
  /**
   * Calls `listener` for every text frame from now on (parsed JSON; a non-JSON text frame as a
   * string). Returns the disposer.
   */
  onFrame(listener: (frame: ServerFrame) => void): () => void
  /** Resolves with the next frame matching `match` that arrives after the call. */
  next<F extends ServerFrame = ServerFrame>(
    match: string | ((frame: ServerFrame) => boolean),
    timeoutMs?: number,
  ): Promise<F>
  /** Stops reading the TCP socket: the kernel buffers fill and the server's writes back up. */
  pause(): void
  /** Reads again. */
  resume(): void
  /** Kills the TCP connection without a close frame. */
  destroy(): void
  /** Resolves when the TCP connection is gone; `code` 1006 when no close frame arrived. */
  readonly closed: Promise<CloseInfo>
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const OP_CONTINUATION = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa

/**
 * Opens a WebSocket to `wsUrl` (`ws://host:port/path`) over a raw TCP socket and resolves once
 * the server accepted the upgrade.
 *
 * @example
 * const c = await connectTcpWs(server.wsUrl)
 * c.send({ t: 'hello', token: 'alice' })
 * await c.next('welcome')
 * c.pause()
 */
export async function connectTcpWs(wsUrl: string, timeoutMs = 5_000): Promise<TcpWsClient> {
  const url = new URL(wsUrl)
  const socket = connect({ host: url.hostname, port: Number(url.port) })
  const key = randomBytes(16).toString('base64')
  const expectedAccept = createHash('sha1')
    .update(key + GUID)
    .digest('base64')

  const listeners = new Set<(frame: ServerFrame) => void>()
  let closeInfo: CloseInfo | undefined
  let resolveClosed: (info: CloseInfo) => void = () => undefined
  const closed = new Promise<CloseInfo>((resolve) => (resolveClosed = resolve))
  let receivedClose: CloseInfo | undefined
  socket.on('error', () => undefined)
  socket.once('close', () => {
    closeInfo = receivedClose ?? { code: 1006, reason: '' }
    resolveClosed(closeInfo)
  })

  const rest = await handshake(socket, url, key, expectedAccept, timeoutMs)

  // Frame parser state. Chunks are kept in a list and joined only when a frame is complete, so a
  // large backlog is parsed in linear time.
  let chunks: Buffer[] = rest.byteLength > 0 ? [rest] : []
  let buffered = rest.byteLength
  let fragments: Buffer[] = []
  let fragmentOpcode = OP_TEXT

  const emit = (text: string): void => {
    let frame: ServerFrame
    try {
      frame = JSON.parse(text) as ServerFrame
    } catch {
      frame = text as unknown as ServerFrame
    }
    for (const listener of [...listeners]) listener(frame)
  }

  const parse = (): void => {
    let data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered)
    let at = 0
    for (;;) {
      if (data.byteLength - at < 2) break
      const b0 = data[at] as number
      const b1 = data[at + 1] as number
      const fin = (b0 & 0x80) !== 0
      const opcode = b0 & 0x0f
      let length = b1 & 0x7f
      let header = 2
      if (length === 126) {
        if (data.byteLength - at < 4) break
        length = data.readUInt16BE(at + 2)
        header = 4
      } else if (length === 127) {
        if (data.byteLength - at < 10) break
        length = Number(data.readBigUInt64BE(at + 2))
        header = 10
      }
      // Servers never mask (RFC 6455 §5.1).
      if (data.byteLength - at < header + length) break
      const payload = data.subarray(at + header, at + header + length)
      at += header + length
      if (opcode === OP_PING) writeFrame(socket, OP_PONG, payload)
      else if (opcode === OP_PONG) continue
      else if (opcode === OP_CLOSE) {
        receivedClose = {
          code: payload.byteLength >= 2 ? payload.readUInt16BE(0) : 1005,
          reason: payload.subarray(2).toString('utf8'),
        }
        writeFrame(socket, OP_CLOSE, payload.subarray(0, 2))
        socket.end()
      } else if (opcode === OP_TEXT || opcode === OP_BINARY || opcode === OP_CONTINUATION) {
        if (opcode !== OP_CONTINUATION) fragmentOpcode = opcode
        fragments.push(Buffer.from(payload))
        if (fin) {
          const message =
            fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments)
          fragments = []
          emit(fragmentOpcode === OP_TEXT ? message.toString('utf8') : message.toString('hex'))
        }
      }
    }
    data = data.subarray(at)
    chunks = data.byteLength > 0 ? [data] : []
    buffered = data.byteLength
  }

  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    buffered += chunk.byteLength
    parse()
  })
  if (buffered > 0) queueMicrotask(parse)

  const onFrame = (listener: (frame: ServerFrame) => void): (() => void) => {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  return {
    send(frame) {
      writeFrame(
        socket,
        OP_TEXT,
        Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)),
      )
    },
    onFrame,
    next<F extends ServerFrame>(
      match: string | ((frame: ServerFrame) => boolean),
      wait = 5_000,
    ): Promise<F> {
      const matches =
        typeof match === 'string'
          ? (f: ServerFrame) => typeof f === 'object' && f !== null && f.t === match
          : match
      return new Promise<F>((resolve, reject) => {
        const timer = setTimeout(() => {
          dispose()
          reject(new Error(`No matching frame within ${wait} ms`))
        }, wait)
        const dispose = onFrame((frame) => {
          if (!matches(frame)) return
          clearTimeout(timer)
          dispose()
          resolve(frame as F)
        })
        void closed.then((info) => {
          clearTimeout(timer)
          dispose()
          reject(new Error(`Socket closed (${info.code} ${info.reason}) while waiting for a frame`))
        })
      })
    },
    pause() {
      socket.pause()
    },
    resume() {
      socket.resume()
    },
    destroy() {
      socket.destroy()
    },
    closed,
  }
}

/** Sends the upgrade request and resolves with the bytes that followed the 101 response. */
function handshake(
  socket: Socket,
  url: URL,
  key: string,
  expectedAccept: string,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => fail(new Error(`No upgrade within ${timeoutMs} ms`)), timeoutMs)
    const fail = (err: Error): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.destroy()
      reject(err)
    }
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      const head = received.subarray(0, end).toString('latin1').split('\r\n')
      const status = head[0] ?? ''
      const accept = head
        .slice(1)
        .find((line) => line.toLowerCase().startsWith('sec-websocket-accept:'))
        ?.slice('sec-websocket-accept:'.length)
        .trim()
      if (!/^HTTP\/1\.1 101 /.test(status) || accept !== expectedAccept) {
        fail(new Error(`WebSocket upgrade refused: ${status}`))
        return
      }
      resolve(received.subarray(end + 4))
    }
    const onClose = (): void => fail(new Error('Socket closed during the WebSocket handshake'))
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.once('connect', () => {
      socket.write(
        [
          `GET ${url.pathname}${url.search} HTTP/1.1`,
          `Host: ${url.host}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      )
    })
  })
}

/** Writes one final frame, masked as RFC 6455 requires of clients. */
function writeFrame(socket: Socket, opcode: number, payload: Buffer): void {
  if (socket.destroyed) return
  const length = payload.byteLength
  const header =
    length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10)
  header[0] = 0x80 | opcode
  if (length < 126) header[1] = 0x80 | length
  else if (length < 65_536) {
    header[1] = 0x80 | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  const mask = randomBytes(4)
  const masked = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number)
  socket.write(Buffer.concat([header, mask, masked]))
}
