// A client process of bench/connections/storm.ts: its share of the room's members as real SDK
// clients (`@seqline/client`, WebSocket transport, memory storage, each its own user), subscribed
// from the start of the stream. Records what each receives (to check exactly once, in order) and,
// once armed, how each loses its connection and comes back.
import {
  type ConnectionState,
  MemoryStorage,
  type SeqlineClient,
  type WebSocketConstructor,
  createClient,
} from '@seqline/client'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import WebSocket from 'ws'
import { serveParent } from '../support/worker-process.js'
import { monotonicMs } from './fill-protocol.js'
import type { StormEvent, StormReply, StormRequest } from './storm-protocol.js'

interface Member {
  readonly client: SeqlineClient
  /** Next message id expected. */
  next: number
  /** Messages taken in order (a message past a gap counts; the gap is lost). */
  accepted: number
  duplicated: number
  outOfOrder: number
  ready: boolean
  // Since `arm`:
  lostAt: number | undefined
  dialAt: number | undefined
  dials: number
  openAt: number | undefined
  connectMs: number | undefined
  caughtUp: boolean
  caughtUpAt: number | undefined
  subscribeMs: number | undefined
  relapsed: boolean
}

const members: Member[] = []
const delay = monitorEventLoopDelay({ resolution: 1 })
let armed = false
const causes: Record<string, number> = {}

/** A `ws` constructor bound to one local address (the SDK takes a constructor, not options). */
function boundWebSocket(localAddress: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { localAddress, perMessageDeflate: false })
    }
  } as unknown as WebSocketConstructor
}

/** A short name for why a connection was lost or an attempt failed. */
function causeOf(cause: unknown): string {
  if (typeof cause !== 'object' || cause === null) return String(cause)
  const c = cause as { code?: unknown; error?: { code?: unknown; message?: unknown } }
  if (typeof c.error?.code === 'string') return c.error.code
  if (typeof c.code === 'string') return c.code
  if (typeof c.code === 'number') return `close ${c.code}`
  return 'unknown'
}

function stateChanged(member: Member, to: ConnectionState): void {
  if (!armed) return
  const now = monotonicMs()
  if (to.kind !== 'open' && member.caughtUp) {
    member.caughtUp = false
    if (member.caughtUpAt !== undefined) member.relapsed = true
  }
  if (to.kind === 'reconnecting' && to.phase === 'waiting') {
    member.lostAt ??= now
    const cause = causeOf(to.cause)
    causes[cause] = (causes[cause] ?? 0) + 1
  } else if (to.kind === 'reconnecting' && to.phase === 'dialing') {
    member.dials += 1
    member.dialAt = now
  } else if (to.kind === 'open') {
    member.openAt = now
    if (member.dialAt !== undefined) member.connectMs = now - member.dialAt
  }
}

function boundAddress(addresses: readonly string[], index: number): string {
  return addresses[index % addresses.length] ?? '127.0.0.1'
}

const constructors = new Map<string, WebSocketConstructor>()

async function start(
  request: Extract<StormRequest, { type: 'start' }>,
  progress: (event: StormEvent) => void,
): Promise<StormReply> {
  const latencies: number[] = []
  const startedMs = monotonicMs()
  const ticker = setInterval(() => report(progress), 1_000)
  let next = 0
  const one = async (offset: number): Promise<void> => {
    const index = request.first + offset
    const address = boundAddress(request.sourceAddresses, index)
    let WebSocketClass = constructors.get(address)
    if (WebSocketClass === undefined) {
      WebSocketClass = boundWebSocket(address)
      constructors.set(address, WebSocketClass)
    }
    const t0 = monotonicMs()
    const client = createClient({
      url: request.url,
      token: `u${index}`,
      transport: 'websocket',
      storage: new MemoryStorage(),
      environment: null,
      WebSocket: WebSocketClass,
    })
    const member: Member = {
      client,
      next: 0,
      accepted: 0,
      duplicated: 0,
      outOfOrder: 0,
      ready: false,
      lostAt: undefined,
      dialAt: undefined,
      dials: 0,
      openAt: undefined,
      connectMs: undefined,
      caughtUp: false,
      caughtUpAt: undefined,
      subscribeMs: undefined,
      relapsed: false,
    }
    members.push(member)
    client.on('state', ({ to }) => stateChanged(member, to))
    const stream = client.stream<{ i: number }>(request.stream)
    stream.on('subscribed', () => {
      if (!armed || client.state.kind !== 'open') return
      member.caughtUp = true
      member.caughtUpAt = monotonicMs()
      if (member.openAt !== undefined) member.subscribeMs = member.caughtUpAt - member.openAt
    })
    const subscription = stream.subscribe({
      from: 'earliest',
      onMessage: (message) => {
        const i = message.data.i
        if (i < member.next) {
          member.duplicated += 1
          return
        }
        if (i > member.next) member.outOfOrder += 1
        member.accepted += 1
        member.next = i + 1
      },
    })
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), Math.max(0, request.deadlineMs - monotonicMs())),
    )
    if ((await Promise.race([subscription.ready, timeout])) === 'timeout') return
    member.ready = true
    latencies.push(monotonicMs() - t0)
  }
  await Promise.all(
    Array.from({ length: Math.min(request.concurrency, request.count) }, async () => {
      for (let offset = next++; offset < request.count; offset = next++) {
        if (monotonicMs() > request.deadlineMs) return
        await one(offset)
      }
    }),
  )
  clearInterval(ticker)
  return {
    type: 'started',
    ready: latencies.length,
    latencies,
    startedMs,
    finishedMs: monotonicMs(),
  }
}

let reportTicker: NodeJS.Timeout | undefined

function report(progress: (event: StormEvent) => void): void {
  progress({
    type: 'progress',
    ready: members.filter((m) => m.ready).length,
    open: members.filter((m) => m.client.state.kind === 'open').length,
    caughtUp: members.filter((m) => m.caughtUp).length,
  })
}

/** Polls `done` every 50 ms until it holds or the deadline passes. */
async function until(done: () => boolean, deadlineMs: number): Promise<void> {
  while (!done() && monotonicMs() < deadlineMs) await new Promise((r) => setTimeout(r, 50))
}

const progress: (event: StormEvent) => void = serveParent<StormRequest, StormReply, StormEvent>(
  async (request): Promise<StormReply> => {
    switch (request.type) {
      case 'start':
        return start(request, progress)
      case 'await-messages': {
        await until(() => members.every((m) => m.next >= request.count), request.deadlineMs)
        const complete = members.filter((m) => m.next >= request.count).length
        return { type: 'messages', complete, behind: members.length - complete }
      }
      case 'arm':
        armed = true
        delay.enable()
        reportTicker = setInterval(() => report(progress), 250)
        return { type: 'armed' }
      case 'await-recovered': {
        await until(() => members.every((m) => m.caughtUp), request.deadlineMs)
        clearInterval(reportTicker)
        const recovered = members.filter((m) => m.caughtUp)
        return {
          type: 'recovered',
          recovery: {
            clients: members.length,
            recovered: recovered.length,
            caughtUpAt: recovered.map((m) => m.caughtUpAt!),
            lostAt: members.flatMap((m) => (m.lostAt === undefined ? [] : [m.lostAt])),
            dials: recovered.map((m) => m.dials),
            connectMs: recovered.flatMap((m) => (m.connectMs === undefined ? [] : [m.connectMs])),
            subscribeMs: recovered.flatMap((m) =>
              m.subscribeMs === undefined ? [] : [m.subscribeMs],
            ),
            causes,
            relapses: members.filter((m) => m.relapsed).length,
            eventLoopDelay: {
              p50: delay.percentile(50) / 1e6,
              p99: delay.percentile(99) / 1e6,
              max: delay.max / 1e6,
            },
          },
        }
      }
      case 'verify': {
        let lost = 0
        let clientsWithProblems = 0
        for (const m of members) {
          const missing = request.total - m.accepted
          lost += missing
          if (missing > 0 || m.duplicated > 0) clientsWithProblems += 1
        }
        return {
          type: 'verified',
          lost,
          duplicated: members.reduce((n, m) => n + m.duplicated, 0),
          outOfOrder: members.reduce((n, m) => n + m.outOfOrder, 0),
          clientsWithProblems,
        }
      }
      case 'close':
        await Promise.all(members.map((m) => m.client.close()))
        return { type: 'closed' }
    }
  },
)
