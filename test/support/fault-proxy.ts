import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net'

// A TCP proxy that misbehaves on purpose, for the chaos suite (test/chaos) and the peer comparison
// (bench/chaos-peers). One proxy sits in front of one client, so faults can hit one client or all.
//
//   client ──▶ [ proxy: pipe toServer ] ──▶ server
//   client ◀── [ proxy: pipe toClient ] ◀── server
//
// Each pipe shapes its direction (latency, jitter, bandwidth) and can drop, hold or forward bytes.
// The faults, applied to every connection open at the time:
//
//   reset      RST on both halves: both ends learn at once.
//   blackhole  bytes (and FIN/RST) vanish both ways; both sockets stay open. Only heartbeats notice.
//   half-open  the client half gets an RST (the device died, or moved network); the server half stays
//              open and what the server writes is read and thrown away. The server notices only by
//              its heartbeat; until then it believes it is delivering.
//   stall      the client stops reading: nothing is read from the server socket any more, so the
//              server's writes pile up in its own buffers (TCP backpressure), until `unstall()`.
//   offline    while on, every connection is reset on accept and the open ones are reset.

/** Link shaping, per direction. */
export interface LinkShape {
  /** Added one-way delay. */
  readonly latencyMs?: number
  /** Extra random delay in [0, jitterMs) per chunk (order is kept). */
  readonly jitterMs?: number
  /** Throughput cap; undefined: unlimited. */
  readonly bytesPerSec?: number
}

/** What the proxy did, for reports. */
export interface FaultCounts {
  resets: number
  blackholes: number
  halfOpens: number
  stalls: number
  offlines: number
  accepted: number
}

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Port of the server on 127.0.0.1 (it may die and come back on the same port). */
  readonly targetPort: number
  /** Random source for jitter; default Math.random. */
  readonly random?: () => number
  readonly shape?: LinkShape
}

/** A fault-injecting TCP proxy on 127.0.0.1. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Connections with at least one half still open. */
  readonly connectionCount: number
  readonly counts: Readonly<FaultCounts>
  reset(): void
  blackhole(): void
  halfOpen(): void
  stall(): void
  unstall(): void
  /** Turns offline mode on (resets everything open) or off. */
  offline(on: boolean): void
  /** Changes the shaping of current and future connections. */
  shape(shape: LinkShape): void
  close(): Promise<void>
}

// Bytes queued in a pipe above which its source is paused (backpressure instead of buffering).
const PIPE_HIGH_WATER = 512 * 1024

type PipeMode = 'forward' | 'drop' | 'hold'
type Item = { readonly kind: 'data'; readonly chunk: Buffer } | { readonly kind: 'end' | 'kill' }

/** One direction of one connection: source socket → shaping queue → destination socket. */
class Pipe {
  mode: PipeMode = 'forward'
  #queue: { item: Item; due: number }[] = []
  #queuedBytes = 0
  #linkFreeAt = 0
  #lastDue = 0
  #timer: NodeJS.Timeout | undefined
  #done = false

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private shapeOf: () => LinkShape,
    private readonly random: () => number,
  ) {}

  push(item: Item): void {
    if (this.#done) return
    if (this.mode === 'drop') return
    const shape = this.shapeOf()
    const now = Date.now()
    const bytes = item.kind === 'data' ? item.chunk.byteLength : 0
    const start = Math.max(now, this.#linkFreeAt)
    this.#linkFreeAt =
      shape.bytesPerSec === undefined ? start : start + (bytes * 1000) / shape.bytesPerSec
    const jitter = shape.jitterMs === undefined ? 0 : this.random() * shape.jitterMs
    // Never before an earlier chunk: TCP keeps order, and so must the proxy.
    const due = Math.max(this.#lastDue, this.#linkFreeAt + (shape.latencyMs ?? 0) + jitter)
    this.#lastDue = due
    this.#queue.push({ item, due })
    this.#queuedBytes += bytes
    if (this.#queuedBytes > PIPE_HIGH_WATER) this.source.pause()
    this.#flush()
  }

  /** Forwards again after `hold` (a stall ends); queued bytes go first. */
  release(): void {
    if (this.mode === 'hold') this.mode = 'forward'
    this.source.resume()
    this.#flush()
  }

  /** Drops everything queued and everything that comes. */
  discard(): void {
    this.mode = 'drop'
    this.#queue = []
    this.#queuedBytes = 0
    this.source.resume()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  stop(): void {
    this.#done = true
    this.discard()
  }

  #flush(): void {
    if (this.#timer !== undefined || this.mode === 'hold') return
    const now = Date.now()
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as { item: Item; due: number }
      if (head.due > now) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined
          this.#flush()
        }, head.due - now)
        return
      }
      this.#queue.shift()
      const { item } = head
      if (item.kind === 'data') {
        this.#queuedBytes -= item.chunk.byteLength
        if (!this.destination.destroyed) this.destination.write(item.chunk)
      } else if (item.kind === 'end') {
        if (!this.destination.destroyed) this.destination.end()
      } else {
        kill(this.destination)
      }
    }
    if (this.#queuedBytes <= PIPE_HIGH_WATER && this.mode === 'forward') this.source.resume()
  }
}

interface Pair {
  readonly client: Socket
  readonly server: Socket
  readonly toServer: Pipe
  readonly toClient: Pipe
  /** Once faulted, closes are no longer passed on (a blackhole or half-open swallows them). */
  swallowCloses: boolean
}

/** RST where the platform allows (the peer learns nothing gracefully), else destroy. */
function kill(socket: Socket): void {
  if (socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') {
    try {
      socket.resetAndDestroy()
      return
    } catch {
      // Not connected yet: fall through to destroy.
    }
  }
  socket.destroy()
}

/**
 * Starts a fault proxy on 127.0.0.1 (port 0) in front of `127.0.0.1:targetPort`.
 *
 * @example
 * const proxy = await startFaultProxy({ targetPort: server.port, shape: { latencyMs: 20 } })
 * const client = createClient({ url: proxy.url, token })
 * proxy.halfOpen() // the server keeps writing into the void until its heartbeat notices
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = options.random ?? Math.random
  const pairs = new Set<Pair>()
  const counts: FaultCounts = {
    resets: 0,
    blackholes: 0,
    halfOpens: 0,
    stalls: 0,
    offlines: 0,
    accepted: 0,
  }
  let shape: LinkShape = options.shape ?? {}
  let offline = false
  let stalled = false

  const forget = (pair: Pair): void => {
    if (!pairs.delete(pair)) return
    pair.toServer.stop()
    pair.toClient.stop()
  }

  const server: Server = createServer((client) => {
    counts.accepted += 1
    client.on('error', () => {})
    if (offline) {
      kill(client)
      return
    }
    client.setNoDelay(true)
    const upstream = connect(options.targetPort, '127.0.0.1')
    upstream.setNoDelay(true)
    upstream.on('error', () => {})
    upstream.once('connect', () => {
      // While the server is down a connect to its port can land on our own ephemeral port (a TCP
      // self-connect on loopback): that is not the server.
      if (upstream.localPort === upstream.remotePort) kill(upstream)
    })
    const pair: Pair = {
      client,
      server: upstream,
      toServer: new Pipe(client, upstream, () => shape, random),
      toClient: new Pipe(upstream, client, () => shape, random),
      swallowCloses: false,
    }
    pairs.add(pair)
    if (stalled) pair.toClient.mode = 'hold'
    client.on('data', (chunk: Buffer) => pair.toServer.push({ kind: 'data', chunk }))
    upstream.on('data', (chunk: Buffer) => {
      pair.toClient.push({ kind: 'data', chunk })
      // A held pipe stops reading its source: the bytes stay in the server's buffers (backpressure).
      if (pair.toClient.mode === 'hold') upstream.pause()
    })
    client.on('end', () => {
      if (!pair.swallowCloses) pair.toServer.push({ kind: 'end' })
    })
    upstream.on('end', () => {
      if (!pair.swallowCloses) pair.toClient.push({ kind: 'end' })
    })
    client.on('close', () => {
      if (!pair.swallowCloses) pair.toServer.push({ kind: 'kill' })
      if (upstream.destroyed) forget(pair)
    })
    upstream.on('close', () => {
      if (!pair.swallowCloses) pair.toClient.push({ kind: 'kill' })
      if (client.destroyed) forget(pair)
    })
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  const resetAll = (): void => {
    for (const pair of [...pairs]) {
      forget(pair)
      kill(pair.client)
      kill(pair.server)
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connectionCount() {
      return pairs.size
    },
    counts,
    reset() {
      counts.resets += 1
      resetAll()
    },
    blackhole() {
      counts.blackholes += 1
      for (const pair of pairs) {
        pair.swallowCloses = true
        pair.toServer.discard()
        pair.toClient.discard()
      }
    },
    halfOpen() {
      counts.halfOpens += 1
      for (const pair of pairs) {
        pair.swallowCloses = true
        pair.toServer.discard()
        pair.toClient.discard()
        kill(pair.client)
        // The server half is forgotten once the server closes it (its heartbeat).
        if (pair.server.destroyed) forget(pair)
      }
    },
    stall() {
      counts.stalls += 1
      stalled = true
      for (const pair of pairs) {
        if (pair.toClient.mode === 'forward') pair.toClient.mode = 'hold'
      }
    },
    unstall() {
      stalled = false
      for (const pair of pairs) pair.toClient.release()
    },
    offline(on) {
      if (on && !offline) counts.offlines += 1
      offline = on
      if (on) resetAll()
    },
    shape(next) {
      shape = next
    },
    async close() {
      offline = true
      resetAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A free TCP port below Linux's ephemeral range (32768+), for a server that is killed and restarted
 * on the same port: a port from the ephemeral range may meanwhile be taken as the source port of a
 * client's reconnect attempt, and the restart would fail with EADDRINUSE.
 */
export async function freeStablePort(random: () => number = Math.random): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(random() * 12_000)
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error('no free port found in 20000-32000')
}
