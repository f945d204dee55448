import { WebSocket } from 'ws'
import type { FuzzFrame } from './frame-arbitraries.js'

/** What the server answered to one batch of fuzz frames. */
export interface Exchange {
  /** Error codes the server sent for each frame, in order. */
  readonly perFrame: string[][]
  /** Codes of `nack`s that arrived meanwhile (publishes answer asynchronously). */
  readonly nacks: string[]
  /** Error messages that look like they carry internals (a stack trace, a path). */
  readonly leaks: string[]
  /** Set when the server closed the connection during the exchange. */
  readonly closed?: { readonly code: number; readonly reason: string }
}

/**
 * A greeted WebSocket for fuzzing that keeps nothing it does not need: unlike the test client of
 * test/support it does not retain every frame (a fuzz run receives millions of `msg` frames).
 *
 * Each fuzz frame is followed by a marker — an `unsub` of a stream nobody follows, answered by an
 * `error NOT_SUBSCRIBED` naming that stream. Frames are handled strictly in order, so the errors
 * between two markers are the answers to the frame between them, and the last marker proves the
 * server is still answering (no hang).
 */
export class FuzzConnection {
  readonly #socket: WebSocket
  #segment: string[] = []
  #segments: string[][] = []
  #nacks: string[] = []
  #leaks: string[] = []
  #marker = ''
  #markerCount = 0
  #onMarker: (() => void) | undefined
  #closed: { code: number; reason: string } | undefined
  /** Next producer seq per stream for `nextPub` frames (producer = this connection's client). */
  readonly #nextSeq = new Map<string, number>()
  /** Publishes this connection got a `puback` for. */
  acked = 0
  #onClose: (() => void) | undefined

  private constructor(socket: WebSocket) {
    this.#socket = socket
    socket.on('message', (data) => this.#receive(String(data)))
    socket.on('close', (code, reason) => {
      this.#closed = { code, reason: String(reason) }
      this.#onClose?.()
    })
    socket.on('error', () => {})
  }

  /** Connects and says hello as `token`; resolves once welcomed. */
  static async open(wsUrl: string, token: string): Promise<FuzzConnection> {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false })
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    const welcomed = new Promise<void>((resolve, reject) => {
      socket.once('message', (data) => {
        const frame = JSON.parse(String(data)) as { t: string }
        if (frame.t === 'welcome') resolve()
        else reject(new Error(`hello refused: ${String(data)}`))
      })
    })
    socket.send(JSON.stringify({ t: 'hello', token }))
    await welcomed
    return new FuzzConnection(socket)
  }

  get closed(): boolean {
    return this.#closed !== undefined
  }

  /** Sends `frames`, each followed by a marker, and collects the answers. */
  async exchange(frames: readonly FuzzFrame[], id: string, timeoutMs = 5_000): Promise<Exchange> {
    this.#segments = []
    this.#segment = []
    this.#nacks = []
    this.#leaks = []
    this.#markerCount = 0
    const markers = frames.map((_, i) => `zz:marker-${id}-${i}`)
    let index = 0
    this.#marker = markers[0] ?? ''
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no answer within ${timeoutMs} ms (${this.#markerCount} of ${frames.length})`,
            ),
          ),
        timeoutMs,
      )
      this.#onMarker = () => {
        index += 1
        this.#marker = markers[index] ?? ''
        if (index === frames.length) {
          clearTimeout(timer)
          resolve()
        }
      }
      this.#onClose = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    frames.forEach((frame, i) => {
      if ('binary' in frame) this.#socket.send(frame.binary, { binary: true })
      else if ('nextPub' in frame) {
        const { stream, data } = frame.nextPub
        const seq = this.#nextSeq.get(stream) ?? 0
        this.#nextSeq.set(stream, seq + 1)
        this.#socket.send(JSON.stringify({ t: 'pub', stream, epoch: 0, seq, data }))
      } else this.#socket.send(frame.text)
      this.#socket.send(JSON.stringify({ t: 'unsub', stream: markers[i] }))
    })
    await done
    this.#onMarker = undefined
    this.#onClose = undefined
    return {
      perFrame: this.#segments,
      nacks: this.#nacks,
      leaks: this.#leaks,
      ...(this.#closed === undefined ? {} : { closed: this.#closed }),
    }
  }

  close(): void {
    this.#socket.terminate()
  }

  #receive(text: string): void {
    let frame: {
      t?: unknown
      code?: unknown
      stream?: unknown
      message?: unknown
      expectedSeq?: unknown
    }
    try {
      frame = JSON.parse(text) as typeof frame
    } catch {
      this.#leaks.push(`a server frame that is not JSON: ${text.slice(0, 80)}`)
      return
    }
    if (frame.t === 'puback') this.acked += 1
    if (frame.t === 'nack') {
      this.#nacks.push(String(frame.code))
      // A fuzzed publish of ours took a seq (or the pipeline got ahead): continue where the
      // server expects, so that well-formed publishes keep landing.
      if (typeof frame.expectedSeq === 'number' && typeof frame.stream === 'string') {
        this.#nextSeq.set(frame.stream, frame.expectedSeq)
      }
    }
    if (frame.t !== 'error' && frame.t !== 'nack') return
    if (typeof frame.message === 'string' && /\n\s+at |node_modules|\/src\//.test(frame.message)) {
      this.#leaks.push(frame.message)
    }
    if (frame.t !== 'error') return
    if (frame.stream === this.#marker && frame.code === 'NOT_SUBSCRIBED') {
      this.#markerCount += 1
      this.#segments.push(this.#segment)
      this.#segment = []
      this.#onMarker?.()
      return
    }
    this.#segment.push(String(frame.code))
  }
}
