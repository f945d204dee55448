// A client process of bench/http-modes/run.ts: its share of the clients as real SDK clients
// (`@seqline/client`, memory storage, each its own user) over one transport, each subscribed to
// the shared room and to streams of its own. Checks that every room message arrives exactly once
// and in order, and records publish → receipt on the monotonic clock the processes share.
import { MemoryStorage, type SeqlineClient, createClient } from '@seqline/client'
import { serveParent } from '../support/worker-process.js'
import {
  type ModesEvent,
  type ModesReply,
  type ModesRequest,
  type Stamp,
  TRANSPORT_OPTION,
  monotonicMs,
} from './modes-protocol.js'

interface Member {
  readonly client: SeqlineClient
  /** Next room message expected. */
  next: number
  /** Messages taken in order (a message past a gap counts; the gap is lost). */
  accepted: number
  duplicated: number
  outOfOrder: number
  reconnects: number
}

const members: Member[] = []
let armed = false
let latencies: number[] = []
let lastMs = 0

async function connect(
  request: Extract<ModesRequest, { type: 'connect' }>,
  progress: (event: ModesEvent) => void,
): Promise<ModesReply> {
  const ready: number[] = []
  let wrongTransport = 0
  const ticker = setInterval(() => progress({ type: 'progress', connected: ready.length }), 1_000)
  let next = 0
  const one = async (offset: number): Promise<void> => {
    const index = request.first + offset
    const t0 = monotonicMs()
    const client = createClient({
      url: request.url,
      token: `u${index}`,
      transport: TRANSPORT_OPTION[request.mode],
      storage: new MemoryStorage(),
      environment: null,
    })
    const member: Member = {
      client,
      next: 0,
      accepted: 0,
      duplicated: 0,
      outOfOrder: 0,
      reconnects: 0,
    }
    members.push(member)
    client.on('state', ({ from, to }) => {
      if (armed && from.kind === 'open' && to.kind !== 'open') member.reconnects += 1
    })
    const room = client.stream<Stamp>(request.room).subscribe({
      from: 'latest',
      onMessage: (message) => {
        const now = monotonicMs()
        const { i, ts } = message.data
        // The publisher's first message (i < 0) only opens the room.
        if (i < 0) return
        if (i < member.next) {
          member.duplicated += 1
          return
        }
        if (i > member.next) member.outOfOrder += 1
        member.accepted += 1
        member.next = i + 1
        lastMs = now
        if (armed) latencies.push(now - ts)
      },
    })
    const own = Array.from({ length: request.streamsPerClient - 1 }, (_, k) =>
      client.stream(`inbox:u${index}:${k}`).subscribe({ from: 'latest', onMessage: () => {} }),
    )
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), Math.max(0, request.deadlineMs - monotonicMs())),
    )
    const all = Promise.all([room.ready, ...own.map((s) => s.ready)])
    if ((await Promise.race([all, timeout])) === 'timeout') return
    ready.push(monotonicMs() - t0)
    const state = client.state
    if (state.kind === 'open' && state.transport !== request.mode) wrongTransport += 1
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
  return { type: 'connected', connected: ready.length, latencies: ready, wrongTransport }
}

/** Polls `done` every 50 ms until it holds or the deadline passes. */
async function until(done: () => boolean, deadlineMs: number): Promise<void> {
  while (!done() && monotonicMs() < deadlineMs) await new Promise((r) => setTimeout(r, 50))
}

const progress: (event: ModesEvent) => void = serveParent<ModesRequest, ModesReply, ModesEvent>(
  async (request): Promise<ModesReply> => {
    switch (request.type) {
      case 'connect':
        return connect(request, progress)
      case 'arm':
        armed = true
        latencies = []
        return { type: 'armed' }
      case 'await': {
        await until(() => members.every((m) => m.next >= request.total), request.deadlineMs)
        return {
          type: 'awaited',
          complete: members.filter((m) => m.next >= request.total).length,
          received: members.reduce((n, m) => n + m.accepted, 0),
          lastMs,
        }
      }
      case 'verify':
        return {
          type: 'verified',
          lost: members.reduce((n, m) => n + (request.total - m.accepted), 0),
          duplicated: members.reduce((n, m) => n + m.duplicated, 0),
          outOfOrder: members.reduce((n, m) => n + m.outOfOrder, 0),
          latencies,
          reconnects: members.reduce((n, m) => n + m.reconnects, 0),
        }
      case 'close':
        await Promise.all(members.map((m) => m.client.close()))
        members.length = 0
        return { type: 'closed' }
    }
  },
)
