import type { MsgFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import type { RawClient } from '../support/ws-test-client.js'
import {
  type GreetedClient,
  collectUntilCaughtUp,
  greet,
  publishMany,
  range,
  subscribeUntilCaughtUp,
  waitForTail,
} from '../support/wire-session.js'

// G3 Never silent: a position that cannot be resumed (another epoch, trimmed history, beyond the
// head) gets `reset` — never a partial replay — and the subscription goes on live from the head.

const FAST = ['--publish-rate', '100000', '--publish-burst', '100000']

/** A publisher of one stream that keeps its producer seq across calls. */
async function publisherOf(wsUrl: string, stream: string) {
  const { client } = await greet(wsUrl, { token: 'pub' })
  let seq = 0
  return {
    client,
    async publish(count: number): Promise<void> {
      const replies = await publishMany(client, {
        stream,
        epoch: 0,
        seqs: range(seq, count),
        data: (s) => ({ n: s + 1 }),
      })
      seq += count
      if (replies.some((r) => r.t !== 'puback')) throw new Error(JSON.stringify(replies))
    },
  }
}

/** The next live `msg` of `stream` on `client`, after everything it already received. */
function nextLive(client: RawClient, stream: string, offset: number): Promise<MsgFrame> {
  return client.next<MsgFrame>((f) => f.t === 'msg' && f.stream === stream && f.offset === offset)
}

describe('reset when history cannot be resumed (G3)', () => {
  describe('with retention by count (10 per stream)', () => {
    const stream = 'room:trimmed'
    let server: ServerProcess
    let publisher: Awaited<ReturnType<typeof publisherOf>>
    let epoch: string

    beforeAll(async () => {
      server = await startServerProcess({
        args: [...FAST, '--retention-max-count', '10', '--retention-interval-ms', '200'],
      })
      publisher = await publisherOf(server.wsUrl, stream)
      await publisher.publish(100)
      expect(await waitForTail(server.wsUrl, stream, 91)).toBe(91)
      const probe = await greet(server.wsUrl, { token: 'probe' })
      epoch = (await subscribeUntilCaughtUp(probe.client, stream, 'latest')).caughtUp.epoch
      await probe.client.close()
    })
    afterAll(async () => {
      await publisher?.client.close()
      await server?.dispose()
    })

    it('resets a resume below the tail with reason truncated, never a partial replay', async () => {
      // Messages 91…100 are still there: a partial replay would be possible, and wrong.
      const sub: GreetedClient = await greet(server.wsUrl, {
        token: 'ann',
        resume: [{ stream, epoch, offset: 50 }],
      })
      const { msgs, resets, caughtUp } = await collectUntilCaughtUp(sub.client, stream, {
        fromStart: true,
      })
      expect(resets).toEqual([
        { t: 'reset', stream, reason: 'truncated', epoch, head: 100, tail: 91 },
      ])
      expect(msgs).toEqual([])
      expect(caughtUp).toMatchObject({ epoch, head: 100, recovered: false })

      // The subscription goes on live from the head.
      await publisher.publish(1)
      const live = await nextLive(sub.client, stream, 101)
      expect(live.data).toEqual({ n: 101 })
      expect(sub.client.frames.filter((f) => f.t === 'msg').map((f) => f.offset)).toEqual([101])
      await sub.client.close()
    })

    it('replays from just below the tail and resets one message further down', async () => {
      const { client } = await greet(server.wsUrl, { token: 'bea' })
      const head = (await subscribeUntilCaughtUp(client, stream, 'latest')).caughtUp.head
      // The retention job keeps 10: once it has run since the last publish, tail = head - 9.
      const tail = await waitForTail(server.wsUrl, stream, head - 9)
      expect(tail).toBe(head - 9)

      const edge = await subscribeUntilCaughtUp(client, stream, { epoch, offset: tail - 1 })
      expect(edge.resets).toEqual([])
      expect(edge.msgs.map((m) => m.offset)).toEqual(range(tail, 10))
      expect(edge.caughtUp).toMatchObject({ head, recovered: true })

      const below = await subscribeUntilCaughtUp(client, stream, { epoch, offset: tail - 2 })
      expect(below.resets).toEqual([{ t: 'reset', stream, reason: 'truncated', epoch, head, tail }])
      expect(below.msgs).toEqual([])
      await client.close()
    })

    it('resets a position of another epoch with reason epoch and sends nothing from it', async () => {
      const { client } = await greet(server.wsUrl, { token: 'cid' })
      const head = (await subscribeUntilCaughtUp(client, stream, 'latest')).caughtUp.head
      const tail = await waitForTail(server.wsUrl, stream, head - 9)
      const { msgs, resets, caughtUp } = await subscribeUntilCaughtUp(client, stream, {
        epoch: 'an-older-epoch',
        offset: 95,
      })
      expect(resets).toEqual([{ t: 'reset', stream, reason: 'epoch', epoch, head, tail }])
      expect(msgs).toEqual([])
      expect(caughtUp).toMatchObject({ epoch, recovered: false })

      await publisher.publish(1)
      const live = await nextLive(client, stream, head + 1)
      expect(live.epoch).toBe(epoch)
      expect(client.frames.filter((f) => f.t === 'msg').map((f) => f.offset)).toEqual([head + 1])
      await client.close()
    })

    it('resets a position beyond the head with reason ahead', async () => {
      const { client } = await greet(server.wsUrl, { token: 'dee' })
      const { msgs, resets, caughtUp } = await subscribeUntilCaughtUp(client, stream, {
        epoch,
        offset: 10_000,
      })
      expect(resets).toMatchObject([{ reason: 'ahead', epoch, head: caughtUp.head }])
      expect(msgs).toEqual([])
      await client.close()
    })
  })

  describe('with retention by age (everything trimmed)', () => {
    const stream = 'room:aged'
    let server: ServerProcess

    beforeAll(async () => {
      server = await startServerProcess({
        args: [...FAST, '--retention-max-age-ms', '1000', '--retention-interval-ms', '200'],
      })
    })
    afterAll(() => server?.dispose())

    it('resumes a position equal to the head although its message was trimmed', async () => {
      const publisher = await publisherOf(server.wsUrl, stream)
      await publisher.publish(20)
      expect(await waitForTail(server.wsUrl, stream, 21)).toBe(21)
      const probe = await greet(server.wsUrl, { token: 'probe' })
      const { epoch } = (await subscribeUntilCaughtUp(probe.client, stream, 'latest')).caughtUp
      await probe.client.close()

      const sub = await greet(server.wsUrl, {
        token: 'eva',
        resume: [{ stream, epoch, offset: 20 }],
      })
      const resumed = await collectUntilCaughtUp(sub.client, stream, { fromStart: true })
      expect(resumed.resets).toEqual([])
      expect(resumed.msgs).toEqual([])
      expect(resumed.caughtUp).toMatchObject({ epoch, head: 20, recovered: true })

      // One message short of the head: that message is gone, so this one is a reset.
      const behind = await subscribeUntilCaughtUp(sub.client, stream, { epoch, offset: 19 })
      expect(behind.resets).toEqual([
        { t: 'reset', stream, reason: 'truncated', epoch, head: 20, tail: 21 },
      ])
      expect(behind.msgs).toEqual([])

      await publisher.publish(1)
      expect((await nextLive(sub.client, stream, 21)).data).toEqual({ n: 21 })
      await Promise.all([sub.client.close(), publisher.client.close()])
    })
  })
})
