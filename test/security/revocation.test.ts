import type { ErrorFrame, MsgFrame, NackFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Authorize, AuthorizeAction } from '../../packages/server/src/auth/authenticator.js'
import { LocalBus } from '../../packages/server/src/bus/local-bus.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { MemoryStore } from '../../packages/server/src/store/memory-store.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'

// F5: authorization used to be asked once per connection and stream, so a right taken away kept
// working for as long as the socket lived. Now every publish and signal is authorised (answers
// reused for `authorizeCacheMs`, per user and stream), and `server.revoke(user, stream?)` asks
// again for live subscriptions on every node and ends the refused ones with FORBIDDEN.

/** An authorize hook whose answers the test changes: everything but manage, minus `denied`. */
class Policy {
  readonly #denied = new Set<string>()
  readonly authorize: Authorize = (user, stream, action) =>
    action !== 'manage' && !this.#denied.has(`${user} ${stream} ${action}`)
  deny(user: string, stream: string, action: AuthorizeAction): void {
    this.#denied.add(`${user} ${stream} ${action}`)
  }
}

/** Publishes `seq` on `stream` and resolves with the answer. */
async function publish(client: RawClient, stream: string, seq: number) {
  client.send({ t: 'pub', stream, epoch: 0, seq, data: { seq } })
  return client.next<PubackFrame | NackFrame>((f) => f.t === 'puback' || f.t === 'nack')
}

async function startNode(
  policy: Policy,
  options: { store?: MemoryStore; bus?: LocalBus; authorizeCacheMs: number },
): Promise<{ server: SeqlineServer; url: string; wsUrl: string }> {
  const server = await createServer({
    store: options.store ?? 'memory:',
    bus: options.bus,
    auth: 'dev',
    authorize: policy.authorize,
    authorizeCacheMs: options.authorizeCacheMs,
    logLevel: 'silent',
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return { server, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` }
}

describe('a right taken away while connected (F5)', () => {
  it('refuses the next publish, HTTP append and signal once the hook says no (no cache)', async () => {
    const policy = new Policy()
    const node = await startNode(policy, { authorizeCacheMs: 0 })
    try {
      const { client } = await greet(node.wsUrl, { token: 'alice' })
      const stream = 'room:no-cache'
      expect(await publish(client, stream, 0)).toMatchObject({ t: 'puback' })
      client.send({ t: 'signal', stream, data: { typing: true } })
      client.send({ t: 'ping' })
      await client.next('pong')
      expect(client.frames.some((f) => f.t === 'error')).toBe(false)

      policy.deny('alice', stream, 'publish')
      policy.deny('alice', stream, 'signal')
      expect(await publish(client, stream, 1)).toMatchObject({ t: 'nack', code: 'FORBIDDEN' })
      const append = await fetch(`${node.url}/v1/stream/${stream}`, {
        method: 'POST',
        headers: { authorization: 'Bearer alice', 'content-type': 'application/json' },
        body: '{"over":"http"}',
      })
      expect(append.status).toBe(403)
      client.send({ t: 'signal', stream, data: { typing: true } })
      expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
      await client.close()
    } finally {
      await node.server.close()
    }
  })

  it('refuses publishes once the cached answer runs out, without any call', async () => {
    const policy = new Policy()
    const node = await startNode(policy, { authorizeCacheMs: 300 })
    try {
      const { client } = await greet(node.wsUrl, { token: 'alice' })
      const stream = 'room:cache-runs-out'
      expect(await publish(client, stream, 0)).toMatchObject({ t: 'puback' })
      policy.deny('alice', stream, 'publish')
      // Accepted at most for the cache time, then refused.
      let seq = 1
      await expect
        .poll(async () => (await publish(client, stream, seq++)).t, { interval: 50 })
        .toBe('nack')
      expect(client.frames.at(-1)).toMatchObject({ t: 'nack', code: 'FORBIDDEN' })
      await client.close()
    } finally {
      await node.server.close()
    }
  })

  describe('server.revoke on two nodes', () => {
    const policy = new Policy()
    const store = new MemoryStore()
    const bus = new LocalBus()
    let a: Awaited<ReturnType<typeof startNode>>
    let b: Awaited<ReturnType<typeof startNode>>

    beforeAll(async () => {
      // A long cache: whatever is refused below is refused because of revoke().
      a = await startNode(policy, { store, bus, authorizeCacheMs: 3_600_000 })
      b = await startNode(policy, { store, bus, authorizeCacheMs: 3_600_000 })
    })
    afterAll(async () => {
      await a?.server.close()
      await b?.server.close()
    })

    it('drops cached publish answers at once', async () => {
      const stream = 'room:revoke-publish'
      const { client } = await greet(b.wsUrl, { token: 'alice' })
      expect(await publish(client, stream, 0)).toMatchObject({ t: 'puback' })
      policy.deny('alice', stream, 'publish')
      // Cached for an hour: still accepted until revoke().
      expect(await publish(client, stream, 1)).toMatchObject({ t: 'puback' })
      a.server.revoke('alice', stream)
      await expect
        .poll(async () => (await publish(client, stream, 2)).t, { interval: 20 })
        .toBe('nack')
      await client.close()
    })

    it('ends a live subscription on another node with FORBIDDEN, and nothing follows', async () => {
      const secret = 'room:revoke-read'
      const kept = 'room:still-allowed'
      const alice = await greet(b.wsUrl, { token: 'alice' })
      await subscribeUntilCaughtUp(alice.client, secret, 'earliest')
      await subscribeUntilCaughtUp(alice.client, kept, 'earliest')
      const bob = await greet(b.wsUrl, { token: 'bob' })
      expect(await publish(bob.client, secret, 0)).toMatchObject({ t: 'puback' })
      await alice.client.next<MsgFrame>('msg')

      policy.deny('alice', secret, 'read')
      a.server.revoke('alice')
      const ended = await alice.client.next<ErrorFrame>('error')
      expect(ended).toMatchObject({ code: 'FORBIDDEN', stream: secret })

      expect(await publish(bob.client, secret, 1)).toMatchObject({ t: 'puback' })
      expect(await publish(bob.client, kept, 0)).toMatchObject({ t: 'puback' })
      // The stream still allowed goes on; the revoked one delivers nothing more.
      const next = await alice.client.next<MsgFrame>('msg')
      expect(next.stream).toBe(kept)
      expect(alice.client.frames.filter((f) => f.t === 'msg' && f.stream === secret)).toHaveLength(
        1,
      )
      alice.client.send({ t: 'sub', stream: secret, from: 'earliest' })
      expect(await alice.client.next<ErrorFrame>('error')).toMatchObject({ code: 'FORBIDDEN' })
      await alice.client.close()
      await bob.client.close()
    })
  })
})
