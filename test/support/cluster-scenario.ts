import { setTimeout as delay } from 'node:timers/promises'
import { WebSocket } from 'ws'

// Clients for multi-node chaos scenarios (test/cluster): publishers and subscribers that speak the
// raw wire protocol, hop between nodes, and count — per subscriber and stream — every message
// lost, duplicated or out of order. Wire-level on purpose: the SDK would hide a duplicate (it
// dedups by offset), the suite must see what the servers send.

/** A deterministic PRNG (mulberry32): a failing seed replays the same choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Where the clients may connect: the current WebSocket URLs of the nodes (they move on restart). */
export type NodeUrls = () => readonly string[]

interface Frame {
  readonly t: string
  readonly [key: string]: unknown
}

/** One connection attempt: resolves with the open, greeted socket, or undefined on failure. */
async function open(
  url: string,
  hello: Record<string, unknown>,
  onFrame: (frame: Frame) => void,
): Promise<{ socket: WebSocket; welcome: Frame } | undefined> {
  const socket = new WebSocket(url)
  socket.on('error', () => undefined)
  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3_000)
    socket.once('open', () => {
      clearTimeout(timer)
      resolve(true)
    })
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(false)
    })
  })
  if (!opened) {
    socket.terminate()
    return undefined
  }
  const welcome = await new Promise<Frame | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 3_000)
    socket.once('close', () => resolve(undefined))
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame
      if (frame.t === 'welcome') {
        clearTimeout(timer)
        resolve(frame)
      } else {
        onFrame(frame)
      }
    })
    socket.send(JSON.stringify({ t: 'hello', ...hello }))
  })
  if (welcome === undefined) {
    socket.terminate()
    return undefined
  }
  return { socket, welcome }
}

/** Per stream, what one subscriber saw. */
export interface StreamTally {
  /** Highest offset delivered in order. */
  last: number
  epoch: string | undefined
  delivered: number
  duplicated: number
  outOfOrder: number
  resets: number
  /** `p:seq` of every message, in delivery order. */
  readonly payloads: string[]
}

/**
 * A subscriber that follows `streams`, reconnecting to a random node whenever its socket closes and,
 * while `hopping`, every so often on its own. It resumes each stream from the last offset it saw,
 * so the servers must deliver exactly the next message: anything else is counted.
 */
export class HoppingSubscriber {
  readonly tallies = new Map<string, StreamTally>()
  hopping = true
  connections = 0
  #socket: WebSocket | undefined
  #clientId: string | undefined
  #connectionId: string | undefined
  #secret: string | undefined
  #stopped = false
  readonly #done: Promise<void>

  constructor(
    private readonly name: string,
    private readonly streams: readonly string[],
    private readonly urls: NodeUrls,
    private readonly random: () => number,
    private readonly hopEveryMs: { min: number; max: number },
  ) {
    for (const s of streams) {
      this.tallies.set(s, {
        last: 0,
        epoch: undefined,
        delivered: 0,
        duplicated: 0,
        outOfOrder: 0,
        resets: 0,
        payloads: [],
      })
    }
    this.#done = this.#loop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#socket?.terminate()
    await this.#done
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const urls = this.urls()
      const url = urls[Math.floor(this.random() * urls.length)] ?? urls[0]
      if (url === undefined) {
        await delay(100)
        continue
      }
      const hello: Record<string, unknown> = { token: this.name }
      if (this.#clientId !== undefined) {
        // `takeover`: our previous socket may not be closed on that node yet.
        hello.clientId = this.#clientId
        hello.secret = this.#secret
        hello.takeover = this.#connectionId
      }
      const connection = await open(url, hello, (frame) => this.#frame(frame))
      if (connection === undefined) {
        await delay(50 + this.random() * 150)
        continue
      }
      this.connections += 1
      const { socket, welcome } = connection
      this.#socket = socket
      this.#clientId = welcome.clientId as string
      this.#connectionId = welcome.connectionId as string
      if (typeof welcome.secret === 'string') this.#secret = welcome.secret
      // Frames after the welcome already flow to #frame through open()'s listener.
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      for (const stream of this.streams) {
        const tally = this.tallies.get(stream)
        const from =
          tally?.epoch === undefined ? 'earliest' : { epoch: tally.epoch, offset: tally.last }
        socket.send(JSON.stringify({ t: 'sub', stream, from }))
      }
      const hop = this.hopEveryMs.min + this.random() * (this.hopEveryMs.max - this.hopEveryMs.min)
      const timer = setTimeout(() => {
        if (this.hopping) socket.close()
      }, hop)
      await closed
      clearTimeout(timer)
      this.#socket = undefined
    }
  }

  #frame(frame: Frame): void {
    const tally = typeof frame.stream === 'string' ? this.tallies.get(frame.stream) : undefined
    if (tally === undefined) return
    if (frame.t === 'reset') {
      tally.resets += 1
      return
    }
    if (frame.t === 'caughtUp' && tally.epoch === undefined) {
      tally.epoch = frame.epoch as string
      return
    }
    if (frame.t !== 'msg') return
    const offset = frame.offset as number
    tally.epoch = frame.epoch as string
    if (offset <= tally.last) {
      tally.duplicated += 1
      return
    }
    if (offset !== tally.last + 1) tally.outOfOrder += 1
    tally.last = offset
    tally.delivered += 1
    const data = frame.data as { p: number; s: number }
    tally.payloads.push(`${data.p}:${data.s}`)
  }
}

/**
 * A publisher that sends `count` messages to each of `streams` as producer (its client id), a
 * window of them in flight, over whichever node it is connected to. When its node dies or it
 * hops, it reconnects to a random node and resends every unacknowledged publish with the same
 * seq: the servers must deduplicate them (G4).
 */
export class HoppingPublisher {
  /** Per stream, the next seq to acknowledge. */
  readonly acked = new Map<string, number>()
  duplicates = 0
  nacks: string[] = []
  connections = 0
  readonly #done: Promise<void>
  #clientId: string | undefined
  #connectionId: string | undefined
  #secret: string | undefined
  #stopped = false
  #socket: WebSocket | undefined

  constructor(
    readonly index: number,
    private readonly streams: readonly string[],
    private readonly count: number,
    private readonly urls: NodeUrls,
    private readonly random: () => number,
    private readonly options: { window: number; hopEveryMs: number; pauseMs: number },
  ) {
    for (const s of streams) this.acked.set(s, 0)
    this.#done = this.#loop()
  }

  /** Resolves when every publish has been acknowledged. */
  finished(): Promise<void> {
    return this.#done
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#socket?.terminate()
    await this.#done
  }

  #complete(): boolean {
    return [...this.acked.values()].every((n) => n >= this.count)
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && !this.#complete()) {
      const urls = this.urls()
      const url = urls[Math.floor(this.random() * urls.length)] ?? urls[0]
      if (url === undefined) {
        await delay(100)
        continue
      }
      const hello: Record<string, unknown> = { token: `publisher-${this.index}` }
      if (this.#clientId !== undefined) {
        hello.clientId = this.#clientId
        hello.secret = this.#secret
        hello.takeover = this.#connectionId
      }
      const sent = new Map<string, number>()
      let wake: () => void = () => undefined
      const connection = await open(url, hello, () => undefined)
      if (connection === undefined) {
        await delay(50 + this.random() * 150)
        continue
      }
      this.connections += 1
      const { socket, welcome } = connection
      this.#socket = socket
      this.#clientId = welcome.clientId as string
      this.#connectionId = welcome.connectionId as string
      if (typeof welcome.secret === 'string') this.#secret = welcome.secret
      let open_ = true
      const closed = new Promise<void>((resolve) =>
        socket.once('close', () => {
          open_ = false
          wake()
          resolve()
        }),
      )
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as Frame
        if (frame.t === 'puback') {
          const stream = frame.stream as string
          const seq = frame.seq as number
          if (frame.duplicate === true) this.duplicates += 1
          if (seq + 1 > (this.acked.get(stream) ?? 0)) this.acked.set(stream, seq + 1)
        } else if (frame.t === 'nack') {
          this.nacks.push(JSON.stringify(frame))
        }
        wake()
      })
      // Everything not acknowledged is sent again from the first unacknowledged seq, in order.
      for (const s of this.streams) sent.set(s, this.acked.get(s) ?? 0)
      const hopAt = Date.now() + this.options.hopEveryMs * (0.5 + this.random())
      while (open_ && !this.#stopped && !this.#complete()) {
        if (Date.now() > hopAt) break
        let progressed = false
        for (const stream of this.streams) {
          const next = sent.get(stream) ?? 0
          const acked = this.acked.get(stream) ?? 0
          if (next < this.count && next - acked < this.options.window) {
            socket.send(
              JSON.stringify({
                t: 'pub',
                stream,
                epoch: 1,
                seq: next,
                data: { p: this.index, s: next },
              }),
            )
            sent.set(stream, next + 1)
            progressed = true
          }
        }
        if (progressed) {
          await delay(this.options.pauseMs)
        } else {
          await new Promise<void>((resolve) => {
            wake = resolve
            setTimeout(resolve, 200)
          })
        }
      }
      // Hopping or done: unacknowledged publishes are simply sent again on the next node.
      socket.close()
      await Promise.race([closed, delay(2_000)])
      this.#socket = undefined
    }
  }
}
