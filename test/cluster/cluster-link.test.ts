import type {
  MsgFrame,
  PresenceDiffFrame,
  PresenceFrame,
  ServerSignalFrame,
} from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { Bus, BusMessage } from '../../packages/server/src/bus/bus.js'
import { LocalBus } from '../../packages/server/src/bus/local-bus.js'
import type { ServerSettingsInput } from '../../packages/server/src/settings/server-settings.js'
import { createLogger } from '../../packages/server/src/observability/logger.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { MemoryStore } from '../../packages/server/src/store/memory-store.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'

// Several nodes in one process: servers sharing one MemoryStore and one LocalBus behave as nodes
// sharing PostgreSQL and Redis would, so the cluster link is tested on every `npm test`, without
// any service. The chaos runs against real PostgreSQL and Redis are in multi-node.test.ts.

/** A bus in front of another that can drop messages, as pub/sub may. */
class LossyBus implements Bus {
  /** Returns true to drop the message. */
  drop: (message: BusMessage) => boolean = () => false
  readonly #reconnect = new Set<() => void>()
  constructor(private readonly inner: Bus) {}
  init(): Promise<void> {
    return this.inner.init()
  }
  publish(message: BusMessage): void {
    if (!this.drop(message)) this.inner.publish(message)
  }
  subscribe(listener: (message: BusMessage) => void): () => void {
    return this.inner.subscribe((m) => {
      if (!this.drop(m)) listener(m)
    })
  }
  onReconnect(listener: () => void): () => void {
    this.#reconnect.add(listener)
    return () => this.#reconnect.delete(listener)
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

describe('ClusterLink (in-process nodes)', () => {
  const servers: SeqlineServer[] = []
  const store = new MemoryStore()
  const shared = new LocalBus()

  async function node(
    cluster: ServerSettingsInput['cluster'] = {},
    bus: Bus = shared,
  ): Promise<{ server: SeqlineServer; wsUrl: string }> {
    const server = await createServer({
      store,
      bus,
      cluster,
      auth: 'dev',
      logger: createLogger({ level: 'silent' }),
    })
    servers.push(server)
    const { port } = await server.listen(0, '127.0.0.1')
    return { server, wsUrl: `ws://127.0.0.1:${port}/v1/ws` }
  }

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close()
  })

  it('delivers a commit of one node live to a subscriber of another through the bus', async () => {
    // No heal rounds during the test: only the bus can carry the commit.
    const a = await node({ healIntervalMs: 600_000 })
    const b = await node({ healIntervalMs: 600_000 })
    const { client } = await greet(b.wsUrl, { token: 'bob' })
    const { caughtUp } = await subscribeUntilCaughtUp(client, 'room:live', 'latest')
    await a.server.publish('room:live', { n: 1 })
    await a.server.publish('room:live', { n: 2 })
    const first = await client.next<MsgFrame>('msg', 2_000)
    const second = await client.next<MsgFrame>('msg', 2_000)
    expect([first.offset, second.offset]).toEqual([caughtUp.head + 1, caughtUp.head + 2])
    expect(second.data).toEqual({ n: 2 })
    client.destroy()
  })

  it('heals a lost announcement from the store within the heal interval', async () => {
    const lossy = new LossyBus(new LocalBus())
    lossy.drop = (m) => m.kind === 'head'
    const a = await node({ healIntervalMs: 100 }, lossy)
    const b = await node({ healIntervalMs: 100 }, lossy)
    const { client } = await greet(b.wsUrl, { token: 'bob' })
    await subscribeUntilCaughtUp(client, 'room:lossy', 'latest')
    await a.server.publish('room:lossy', { lost: 'announcement' })
    const msg = await client.next<MsgFrame>('msg', 2_000)
    expect(msg.data).toEqual({ lost: 'announcement' })
    client.destroy()
  })

  it('forwards signals to the subscribers of other nodes', async () => {
    const a = await node()
    const b = await node()
    const alice = (await greet(a.wsUrl, { token: 'alice' })).client
    const bob = (await greet(b.wsUrl, { token: 'bob' })).client
    await subscribeUntilCaughtUp(alice, 'room:sig', 'latest')
    await subscribeUntilCaughtUp(bob, 'room:sig', 'latest')
    alice.send({ t: 'signal', stream: 'room:sig', data: { typing: true } })
    const signal = await bob.next<ServerSignalFrame>('signal', 2_000)
    expect(signal).toMatchObject({ stream: 'room:sig', from: 'alice', data: { typing: true } })
    alice.destroy()
    bob.destroy()
  })

  it('shows the presence of every node and drops a dead node after its heartbeats stop', async () => {
    const cut = new LossyBus(shared)
    const a = await node({ presenceHeartbeatMs: 100 }, cut)
    const b = await node({ presenceHeartbeatMs: 100 })
    const alice = (await greet(a.wsUrl, { token: 'alice' })).client
    await subscribeUntilCaughtUp(alice, 'room:who', 'latest')
    // B learns alice's presence from A's change message (or A's next heartbeat).
    await new Promise((resolve) => setTimeout(resolve, 250))
    const bob = (await greet(b.wsUrl, { token: 'bob' })).client
    bob.send({ t: 'sub', stream: 'room:who', from: 'latest' })
    const snapshot = await bob.next<PresenceFrame>('presence', 2_000)
    expect(snapshot.users).toContainEqual({ user: 'alice', clients: 1 })
    // Alice learns of bob through the bus.
    await alice.next<PresenceDiffFrame>(
      (f) => f.t === 'presenceDiff' && f.changes.some((c) => c.user === 'bob' && c.clients === 1),
      2_000,
    )
    // Node A goes silent (as if killed): after 3 missed heartbeats, bob sees alice leave.
    cut.drop = () => true
    const left = await bob.next<PresenceDiffFrame>(
      (f) => f.t === 'presenceDiff' && f.changes.some((c) => c.user === 'alice'),
      2_000,
    )
    expect(left.changes).toContainEqual({ user: 'alice', clients: 0 })
    alice.destroy()
    bob.destroy()
  })

  it('tells subscribers of other nodes that a stream was deleted', async () => {
    const a = await node()
    const b = await node()
    await a.server.publish('room:gone', 1)
    const { client } = await greet(b.wsUrl, { token: 'bob' })
    await subscribeUntilCaughtUp(client, 'room:gone', 'earliest')
    await a.server.deleteStream('room:gone')
    const error = await client.next((f) => f.t === 'error', 2_000)
    expect(error).toMatchObject({ code: 'STREAM_NOT_FOUND', stream: 'room:gone' })
    client.destroy()
  })
})
