import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import {
  greet,
  publishMany,
  range,
  readStream,
  subscribeUntilCaughtUp,
  waitForTail,
} from '../support/wire-session.js'

// Periodic jobs on a live server (DESIGN §9): retention advances the tail (by count, by age), and
// clients not seen for the TTL are forgotten — never a connected one.

const FAST = ['--publish-rate', '100000', '--publish-burst', '100000']

/** Publishes `count` messages as a fresh producer. */
async function publish(wsUrl: string, stream: string, count: number): Promise<void> {
  const { client } = await greet(wsUrl, { token: 'producer' })
  const replies = await publishMany(client, {
    stream,
    epoch: 0,
    seqs: range(0, count),
    data: (seq) => seq,
  })
  await client.close()
  if (replies.some((r) => r.t !== 'puback')) throw new Error(JSON.stringify(replies))
}

describe('housekeeping', () => {
  describe('with retention by count and client GC', () => {
    let server: ServerProcess

    beforeAll(async () => {
      server = await startServerProcess({
        args: [
          ...FAST,
          '--retention-max-count',
          '5',
          '--retention-interval-ms',
          '200',
          '--client-ttl-ms',
          '1000',
          '--gc-interval-ms',
          '200',
        ],
      })
    })
    afterAll(() => server?.dispose())

    it('trims a stream to its last 5 messages and tells a reader below the tail', async () => {
      const stream = 'room:count'
      await publish(server.wsUrl, stream, 20)
      expect(await waitForTail(server.wsUrl, stream, 16)).toBe(16)
      const { msgs, caughtUp } = await readStream(server.wsUrl, 'r', stream, 'earliest')
      expect(msgs.map((m) => m.offset)).toEqual(range(16, 5))

      const { resets } = await readStream(server.wsUrl, 'r', stream, {
        epoch: caughtUp.epoch,
        offset: 0,
      })
      expect(resets).toMatchObject([{ reason: 'truncated', head: 20, tail: 16 }])
    })

    it('forgets a disconnected client after the TTL but never a connected one', async () => {
      const stays = await greet(server.wsUrl, { token: 'stays' })
      const leaves = await greet(server.wsUrl, { token: 'leaves' })
      await leaves.client.close()
      const leftAt = Date.now()

      // The GC job runs on its own timer: poll the client's HTTP view until it is gone.
      const cursorsOf = (id: string, token: string): Promise<Response> =>
        fetch(`${server.url}/v1/clients/${id}/cursors`, {
          headers: { authorization: `Bearer ${token}` },
        })
      for (;;) {
        const res = await cursorsOf(leaves.welcome.clientId, 'leaves')
        if (res.status === 404) {
          expect(await res.json()).toMatchObject({ error: { code: 'CLIENT_UNKNOWN' } })
          break
        }
        expect(res.status).toBe(200)
        if (Date.now() - leftAt > 10_000) throw new Error('the client was never collected')
        await delay(100)
      }
      // Not before its TTL (1 s, minus a little clock slack).
      expect(Date.now() - leftAt).toBeGreaterThanOrEqual(900)

      const back = await greet(server.wsUrl, {
        token: 'leaves',
        clientId: leaves.welcome.clientId,
        secret: leaves.welcome.secret,
      })
      expect(back.welcome.replaced).toBe('unknown')
      expect(back.welcome.clientId).not.toBe(leaves.welcome.clientId)
      expect(back.welcome.secret).toEqual(expect.any(String))

      // `stays` was connected before `leaves` left, so the same GC run would have taken it.
      expect((await cursorsOf(stays.welcome.clientId, 'stays')).status).toBe(200)
      await stays.client.close()
      const again = await greet(server.wsUrl, {
        token: 'stays',
        clientId: stays.welcome.clientId,
        secret: stays.welcome.secret,
      })
      expect(again.welcome.clientId).toBe(stays.welcome.clientId)
      expect(again.welcome.replaced).toBeUndefined()
      await Promise.all([back.client.close(), again.client.close()])
    })
  })

  describe('with retention by age (1.5 s)', () => {
    let server: ServerProcess

    beforeAll(async () => {
      server = await startServerProcess({
        args: [...FAST, '--retention-max-age-ms', '1500', '--retention-interval-ms', '200'],
      })
    })
    afterAll(() => server?.dispose())

    it('trims messages once they are older than the maximum age', async () => {
      const stream = 'room:age'
      const publishedAt = Date.now()
      await publish(server.wsUrl, stream, 10)
      const { client } = await greet(server.wsUrl, { token: 'r' })
      const young = await subscribeUntilCaughtUp(client, stream, 'earliest')
      await client.close()
      if (Date.now() - publishedAt < 1_000) {
        // Still young: all there (only checked when the machine was quick enough to be sure).
        expect(young.msgs.map((m) => m.offset)).toEqual(range(1, 10))
      }

      expect(await waitForTail(server.wsUrl, stream, 11)).toBe(11)
      expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(1_400)
      const { resets, caughtUp } = await readStream(server.wsUrl, 'r', stream, {
        epoch: young.caughtUp.epoch,
        offset: 5,
      })
      expect(resets).toMatchObject([{ reason: 'truncated', head: 10, tail: 11 }])
      expect(caughtUp).toMatchObject({ head: 10, recovered: false })
    })
  })
})
