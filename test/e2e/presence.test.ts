import type { PresenceDiffFrame, PresenceFrame, ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowAll } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { connectTcpWs } from '../support/tcp-ws-client.js'
import { greet } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'

// Presence in a large room (G6, the room-size intent of DESIGN): a join costs O(1) — changes are
// coalesced per stream into at most one frame per member per interval — the snapshot on subscribe
// is capped, the full list is paged over HTTP, and a member that does not read its presence frames
// never makes the server queue them.

const INTERVAL_MS = 300
const MEMBERS = 2_000
// Connecting 2,000 sockets to a server in the same process: allow for a busy machine.
const SLOW_MACHINE = { timeoutMs: 30_000 }

const isPresence = (f: ServerFrame): f is PresenceFrame | PresenceDiffFrame =>
  f.t === 'presence' || f.t === 'presenceDiff'

describe('presence in a room of 2,000', () => {
  let server: SeqlineServer
  let wsUrl: string
  let url: string
  const members: RawClient[] = []

  beforeAll(async () => {
    server = await createServer({
      store: 'memory:',
      auth: 'dev',
      authorize: allowAll,
      logLevel: 'silent',
      presence: { intervalMs: INTERVAL_MS, snapshotUsers: 50 },
      delivery: { highWaterMark: 16 * 1024 },
      // The member that stops reading also stops answering pings: keep heartbeats out of this.
      connections: { heartbeatMs: 600_000 },
    })
    const { port } = await server.listen(0, '127.0.0.1')
    wsUrl = `ws://127.0.0.1:${port}/v1/ws`
    url = `http://127.0.0.1:${port}`
  })
  afterAll(async () => {
    for (const member of members) member.destroy()
    await server?.close()
  })

  it('sends each member at most one presence frame per interval while the room fills', async () => {
    const started = Date.now()
    for (let i = 0; i < MEMBERS; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const { client } = await greet(wsUrl, { token: `member-${i + j}` }, SLOW_MACHINE)
          client.send({ t: 'sub', stream: 'room:general' })
          await client.next('caughtUp', 20_000)
          return client
        }),
      )
      members.push(...batch)
    }
    // Every member sees everyone once the last changes were sent: as a diff, or as a capped
    // snapshot when the last interval held more changes than the snapshot cap (a fast fill).
    const first = members[0] as RawClient
    await first.next((f) => isPresence(f) && f.count.users === MEMBERS, 10_000)
    const intervals = Math.ceil((Date.now() - started) / INTERVAL_MS) + 1
    const frames = first.frames.filter(isPresence)
    // One snapshot, then at most one frame per interval — not one per join (that was 1,999).
    expect(frames.length).toBeLessThanOrEqual(intervals + 1)
    expect(frames.length).toBeLessThan(MEMBERS / 10)
    const frameCounts = members.map((m) => m.frames.filter(isPresence).length)
    expect(Math.max(...frameCounts)).toBeLessThanOrEqual(intervals + 1)
  }, 180_000)

  it('caps the snapshot of a new subscriber and pages the full list over HTTP', async () => {
    const { client } = await greet(wsUrl, { token: 'late-comer' })
    members.push(client)
    client.send({ t: 'sub', stream: 'room:general' })
    const snapshot = await client.next<PresenceFrame>('presence')
    expect(snapshot.users).toHaveLength(50)
    expect(snapshot.complete).toBe(false)
    expect(snapshot.count.users).toBeGreaterThanOrEqual(MEMBERS)

    const seen: string[] = []
    let after: string | undefined
    for (;;) {
      const query = after === undefined ? '' : `&after=${encodeURIComponent(after)}`
      const res = await fetch(`${url}/v1/presence/room:general?limit=500${query}`, {
        headers: { authorization: 'Bearer reader' },
      })
      const page = (await res.json()) as { users: { user: string }[]; next?: string }
      seen.push(...page.users.map((u) => u.user))
      if (page.next === undefined) break
      after = page.next
    }
    expect(seen.length).toBe(MEMBERS + 1)
    expect(seen).toEqual([...seen].sort())
    expect(new Set(seen).size).toBe(seen.length)
  })

  it('skips presence for a member that does not read, and sends it a snapshot once it does', async () => {
    const slow = await connectTcpWs(wsUrl)
    const received: ServerFrame[] = []
    slow.onFrame((f) => received.push(f))
    slow.send({ t: 'hello', token: 'slow-reader' })
    await slow.next('welcome')
    slow.send({ t: 'sub', stream: 'room:general' })
    await slow.next('caughtUp')
    slow.send({ t: 'sub', stream: 'room:slow-feed' })
    await slow.next('caughtUp')
    slow.pause()
    // Messages only it follows fill its socket and the kernel's buffers (megabytes on loopback):
    // the server then holds it at its high-water mark.
    for (let i = 0; i < 300; i++)
      await server.publish('room:slow-feed', { pad: 'x'.repeat(16_000) })
    // Churn: 200 members leave and 200 join, over several intervals.
    for (let round = 0; round < 4; round++) {
      const leaving = members.splice(1, 50)
      for (const member of leaving) member.destroy()
      for (let j = 0; j < 50; j += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, k) => {
            const { client } = await greet(
              wsUrl,
              { token: `churn-${round}-${j + k}` },
              SLOW_MACHINE,
            )
            client.send({ t: 'sub', stream: 'room:general' })
            await client.next('caughtUp', 20_000)
            members.push(client)
          }),
        )
      }
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS))
    }
    const before = received.length
    slow.resume()
    // It read little while paused (what its socket buffers held), and gets a fresh snapshot once
    // it drained, whose count is the room's current one.
    const snapshot = await slow.next<PresenceFrame>('presence', 30_000)
    expect(snapshot.count.users).toBe(MEMBERS + 2)
    const presenceFrames = received.slice(before).filter(isPresence)
    expect(presenceFrames.length).toBeLessThan(20)
    slow.destroy()
  }, 120_000)
})
