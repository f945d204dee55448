// A client process of bench/connections/fill.ts: opens its share of the subscribers of one room
// (each its own user and connection), counts what they receive and timestamps a tagged broadcast.
// Subscribers speak the wire protocol directly and parse nothing they do not need, so that the
// load generator stays cheap next to the server it measures.
import { type Socket as SocketIoClient, io } from 'socket.io-client'
import WebSocket from 'ws'
import { serveParent } from '../support/worker-process.js'
import {
  type FillEvent,
  type FillReply,
  type FillRequest,
  type FrameCounters,
  System,
  monotonicMs,
} from './fill-protocol.js'

/** One subscriber: closes its connection. */
interface Subscriber {
  close(): void
}

/** Ready subscribers. */
const subscribers: Subscriber[] = []
/** Every connection opened, ready or not (closed on `close`). */
const opened = new Set<Subscriber>()
const counters = {
  frames: 0,
  bytes: 0,
  dropped: 0,
  byType: {} as Record<string, { frames: number; bytes: number }>,
}
/** The broadcast being waited for. */
let expected: { tag: Buffer; tagText: string; times: number[]; seen: Set<number> } | undefined
let onExpectedProgress: (() => void) | undefined

function count(type: string, bytes: number): void {
  counters.frames += 1
  counters.bytes += bytes
  const entry = (counters.byType[type] ??= { frames: 0, bytes: 0 })
  entry.frames += 1
  entry.bytes += bytes
}

/** The `t` of a Seqline frame without parsing it: frames start with `{"t":"<type>"`. */
function seqlineType(data: Buffer): string {
  return data.toString('latin1', 6, data.indexOf(34 /* " */, 6))
}

function received(index: number): void {
  if (expected === undefined || expected.seen.has(index)) return
  expected.seen.add(index)
  expected.times.push(monotonicMs())
  onExpectedProgress?.()
}

/**
 * Keeps `ws` in {@link opened} until it closes; a close before it was ready fails the attempt, a
 * close after it counts as dropped.
 */
function track(ws: WebSocket, reject: (error: Error) => void): WebSocket {
  const subscriber = { close: () => ws.terminate() }
  opened.add(subscriber)
  ws.on('error', reject)
  ws.once('close', () => {
    opened.delete(subscriber)
    if (readySockets.has(ws)) counters.dropped += 1
    else reject(new Error('closed'))
  })
  return ws
}

const readySockets = new WeakSet<WebSocket>()

function ready(ws: WebSocket): Subscriber {
  readySockets.add(ws)
  return { close: () => ws.terminate() }
}

const wsOptions = (localAddress: string): WebSocket.ClientOptions => ({
  perMessageDeflate: false,
  skipUTF8Validation: true,
  localAddress,
})

/**
 * Opens subscriber `index` and resolves once it is ready: open (ws), joined (Socket.IO), or
 * welcomed, subscribed and caught up (Seqline). Rejects with the cause when the attempt fails.
 */
function open(
  request: Extract<FillRequest, { type: 'connect' }>,
  index: number,
  localAddress: string,
): Promise<Subscriber> {
  switch (request.system) {
    case System.ws:
      return new Promise((resolve, reject) => {
        const ws = track(new WebSocket(request.url, wsOptions(localAddress)), reject)
        ws.on('message', (data: Buffer) => {
          count('broadcast', data.byteLength)
          if (expected !== undefined && data.includes(expected.tag)) received(index)
        })
        ws.once('open', () => resolve(ready(ws)))
      })
    case System.seqline:
      return new Promise((resolve, reject) => {
        const ws = track(new WebSocket(request.url, wsOptions(localAddress)), reject)
        ws.on('message', (data: Buffer) => {
          const type = seqlineType(data)
          count(type, data.byteLength)
          if (type === 'welcome') {
            ws.send(JSON.stringify({ t: 'sub', stream: request.stream, from: 'latest' }))
          } else if (type === 'caughtUp') {
            resolve(ready(ws))
          } else if (type === 'msg') {
            if (expected !== undefined && data.includes(expected.tag)) received(index)
          } else if (type === 'error') {
            const code = /"code":"([A-Z_]+)"/.exec(data.toString())?.[1] ?? 'error'
            ws.terminate()
            reject(new Error(code))
          }
        })
        ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', token: `u${index}` })))
      })
    case System.socketio:
      return new Promise((resolve, reject) => {
        const socket: SocketIoClient = io(request.url, {
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
          timeout: 120_000,
          // Passed on to `ws` by engine.io-client.
          localAddress,
        } as Parameters<typeof io>[1])
        socket.on('msg', (payload: { tag?: string }) => {
          count('msg', 0)
          if (expected !== undefined && payload.tag === expected.tagText) received(index)
        })
        const subscriber = { close: () => void socket.disconnect() }
        opened.add(subscriber)
        let joined = false
        socket.once('connect', () => {
          socket.emit('join', request.stream, () => {
            joined = true
            resolve(subscriber)
          })
        })
        socket.once('connect_error', (error) => {
          opened.delete(subscriber)
          reject(error)
        })
        socket.once('disconnect', (reason) => {
          opened.delete(subscriber)
          if (joined) counters.dropped += 1
          else reject(new Error(reason))
        })
      })
  }
}

async function connect(
  request: Extract<FillRequest, { type: 'connect' }>,
  progress: (event: FillEvent) => void,
): Promise<FillReply> {
  const latencies: number[] = []
  const failures: Record<string, number> = {}
  const startedMs = monotonicMs()
  let next = 0
  const ticker = setInterval(
    () => progress({ type: 'progress', connected: latencies.length }),
    1_000,
  )
  const one = async (offset: number): Promise<void> => {
    const index = request.first + offset
    const localAddress =
      request.sourceAddresses[index % request.sourceAddresses.length] ?? '127.0.0.1'
    const start = monotonicMs()
    for (let attempt = 0; monotonicMs() < request.deadlineMs; attempt++) {
      let timer: NodeJS.Timeout | undefined
      try {
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('deadline')),
            Math.max(0, request.deadlineMs - monotonicMs()),
          )
        })
        subscribers.push(await Promise.race([open(request, index, localAddress), deadline]))
        clearTimeout(timer)
        latencies.push(monotonicMs() - start)
        return
      } catch (error) {
        clearTimeout(timer)
        const cause = (error as { code?: string }).code ?? (error as Error).message ?? String(error)
        failures[cause] = (failures[cause] ?? 0) + 1
        // What a client does: try again after a short, jittered pause.
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt) * Math.random()))
      }
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(request.concurrency, request.count) }, async () => {
      for (let offset = next++; offset < request.count; offset = next++) await one(offset)
    }),
  )
  clearInterval(ticker)
  return {
    type: 'connected',
    connected: latencies.length,
    latencies,
    failures,
    startedMs,
    finishedMs: monotonicMs(),
  }
}

/** Starts watching for the broadcast tagged `tag`. */
function expect(tag: string): FillReply {
  expected = { tag: Buffer.from(tag), tagText: tag, times: [], seen: new Set() }
  return { type: 'armed' }
}

/** Resolves once every ready subscriber received the expected broadcast, or after `timeoutMs`. */
function collect(timeoutMs: number): Promise<FillReply> {
  return new Promise((resolve) => {
    const state = expected
    if (state === undefined) {
      resolve({ type: 'received', times: [], missing: subscribers.length })
      return
    }
    const finish = (): void => {
      clearTimeout(timer)
      expected = undefined
      onExpectedProgress = undefined
      resolve({
        type: 'received',
        times: state.times,
        missing: subscribers.length - state.times.length,
      })
    }
    const timer = setTimeout(finish, timeoutMs)
    onExpectedProgress = () => {
      if (state.times.length >= subscribers.length) finish()
    }
    onExpectedProgress()
  })
}

const progress: (event: FillEvent) => void = serveParent<FillRequest, FillReply, FillEvent>(
  async (request): Promise<FillReply> => {
    switch (request.type) {
      case 'connect':
        return connect(request, progress)
      case 'counters':
        return { type: 'counters', counters: structuredClone(counters) satisfies FrameCounters }
      case 'expect':
        return expect(request.tag)
      case 'collect':
        return collect(request.timeoutMs)
      case 'close':
        for (const subscriber of [...subscribers, ...opened]) subscriber.close()
        subscribers.length = 0
        opened.clear()
        return { type: 'closed' }
    }
  },
)
