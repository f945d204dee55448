import type { ClientFrame, ServerFrame } from '@seqline/protocol'
import { WebSocket } from 'ws'

/** How a raw connection ended. */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

/** Selects frames: a frame type (`'welcome'`) or a predicate. */
export type FrameMatcher = string | ((frame: ServerFrame) => boolean)

/** A WebSocket speaking raw protocol frames, for wire-level tests. */
export interface RawClient {
  readonly socket: WebSocket
  /** Every frame received so far, in order (parsed JSON; a non-JSON text frame as a string). */
  readonly frames: readonly ServerFrame[]
  /** Sends a frame (serialised as JSON) or a raw string as it is. */
  send(frame: ClientFrame | Record<string, unknown> | string): void
  /**
   * Resolves with the first frame matching `match` that no earlier `next()` returned, whether it
   * already arrived or arrives within `timeoutMs` (so a frame is never missed because it came
   * before the call). Rejects on timeout or when the socket closes first.
   */
  next<F extends ServerFrame = ServerFrame>(match?: FrameMatcher, timeoutMs?: number): Promise<F>
  /** Closes with a close frame and resolves once closed. */
  close(code?: number, reason?: string): Promise<CloseInfo>
  /** Kills the TCP connection without a close frame (a network drop). */
  destroy(): void
  /** Resolves when the connection is closed, however that happened. */
  readonly closed: Promise<CloseInfo>
}

/** Options of {@link connectRaw}. */
export interface ConnectRawOptions {
  readonly headers?: Record<string, string>
  /** Sent as the `Origin` header, like a browser would. */
  readonly origin?: string
  /** Rejects if the socket is not open after this long. Default 5000 ms. */
  readonly timeoutMs?: number
}

/** Rejection of {@link connectRaw} when the server refused the upgrade. */
export class UpgradeRefusedError extends Error {
  override readonly name = 'UpgradeRefusedError'
  constructor(readonly status: number) {
    super(`WebSocket upgrade refused with HTTP ${status}`)
  }
}

/**
 * Opens a WebSocket to `wsUrl` (e.g. `ws://127.0.0.1:1234/v1/ws`) and resolves once it is open.
 *
 * @example
 * const c = await connectRaw(server.wsUrl)
 * c.send({ t: 'hello', token: 'alice' })
 * const welcome = await c.next<WelcomeFrame>('welcome')
 */
export function connectRaw(wsUrl: string, options: ConnectRawOptions = {}): Promise<RawClient> {
  const socket = new WebSocket(wsUrl, {
    headers: options.headers,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
  })
  const frames: ServerFrame[] = []
  const taken = new Set<number>()
  const waiters = new Set<() => void>()
  let closeInfo: CloseInfo | undefined

  const closed = new Promise<CloseInfo>((resolve) => {
    socket.once('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() }
      resolve(closeInfo)
      for (const wake of [...waiters]) wake()
    })
  })

  socket.on('message', (data, isBinary) => {
    const text = isBinary ? Buffer.from(data as Buffer).toString('hex') : data.toString()
    let frame: ServerFrame
    try {
      frame = JSON.parse(text) as ServerFrame
    } catch {
      frame = text as unknown as ServerFrame
    }
    frames.push(frame)
    for (const wake of [...waiters]) wake()
  })

  const matches = (frame: ServerFrame, match: FrameMatcher | undefined): boolean => {
    if (match === undefined) return true
    if (typeof match === 'string') {
      return typeof frame === 'object' && frame !== null && frame.t === match
    }
    return match(frame)
  }

  const take = (match: FrameMatcher | undefined): ServerFrame | undefined => {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as ServerFrame
      if (!taken.has(i) && matches(frame, match)) {
        taken.add(i)
        return frame
      }
    }
    return undefined
  }

  const client: RawClient = {
    socket,
    frames,
    closed,
    send(frame) {
      socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    },
    next<F extends ServerFrame>(match?: FrameMatcher, timeoutMs = 5_000): Promise<F> {
      return new Promise<F>((resolve, reject) => {
        const check = (): void => {
          const frame = take(match)
          if (frame !== undefined) {
            done()
            resolve(frame as F)
          } else if (closeInfo !== undefined) {
            done()
            reject(
              new Error(
                `Socket closed (${closeInfo.code} ${closeInfo.reason}) while waiting for ${describe(match)}; received: ${recent(frames)}`,
              ),
            )
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(
            new Error(`No ${describe(match)} within ${timeoutMs} ms; received: ${recent(frames)}`),
          )
        }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async close(code = 1000, reason = '') {
      if (closeInfo === undefined) socket.close(code, reason)
      return closed
    },
    destroy() {
      // `terminate()` destroys the TCP socket without a close frame, as when a network drops.
      socket.terminate()
    },
  }

  return new Promise<RawClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`WebSocket to ${wsUrl} not open within ${options.timeoutMs ?? 5_000} ms`))
    }, options.timeoutMs ?? 5_000)
    socket.once('open', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      // Later errors (a destroyed socket) surface as `closed`; keep them from being unhandled.
      socket.on('error', () => undefined)
      resolve(client)
    })
    socket.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.on('error', () => undefined)
      res.resume()
      reject(new UpgradeRefusedError(res.statusCode ?? 0))
    })
    const onError = (err: Error): void => {
      clearTimeout(timer)
      reject(err)
    }
    socket.once('error', onError)
  })
}

function describe(match: FrameMatcher | undefined): string {
  if (match === undefined) return 'frame'
  return typeof match === 'string' ? `"${match}" frame` : 'matching frame'
}

function recent(frames: readonly ServerFrame[]): string {
  const tail = frames.slice(-5).map((f) => JSON.stringify(f))
  return frames.length === 0 ? '(nothing)' : `${frames.length > 5 ? '… ' : ''}${tail.join(', ')}`
}
