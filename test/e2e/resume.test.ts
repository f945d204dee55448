import type { CaughtUpFrame, MsgFrame, ResetFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchFrames, waitUntil } from '../support/frame-watch.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, publishMany, range, subscribeUntilCaughtUp } from '../support/wire-session.js'

// G2 Gapless, ordered: a subscriber whose connection dies gets, on resume, every message after its
// position exactly once and in order — whether it names the position or the server keeps it.

const data = (seq: number): unknown => ({ text: `m${seq}` })

describe('resume after a dropped connection (G2)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: ['--publish-rate', '100000', '--publish-burst', '100000'],
    })
  })
  afterAll(() => server?.dispose())

  it('replays exactly the missed messages after the socket dies mid-stream', async () => {
    const stream = 'room:resume'
    const total = 500
    const first = await greet(server.wsUrl, { token: 'sue' })
    // The stream does not exist yet (a subscribe never creates one): its epoch comes with its
    // first message.
    const { caughtUp } = await subscribeUntilCaughtUp(first.client, stream, 'latest')
    expect(caughtUp).toMatchObject({ epoch: '', head: 0 })
    const before: MsgFrame[] = []
    watchFrames(first.client, (f) => f.t === 'msg' && f.stream === stream && before.push(f))

    // The publisher works in three phases, gated so that every run covers the same ground:
    // 0…149 while the subscriber reads (it drops after 100), 150…299 while it is down (its replay),
    // 300…499 while it resumes (the hand-over from replay to live delivery).
    const gate = (): { open: () => void; opened: Promise<void> } => {
      let open: () => void = () => undefined
      const opened = new Promise<void>((resolve) => (open = resolve))
      return { open, opened }
    }
    const dropped = gate()
    const downPhaseDone = gate()
    const resuming = gate()
    const publisher = await greet(server.wsUrl, { token: 'pat' })
    const publishing = (async () => {
      for (let batch = 0; batch < total / 25; batch++) {
        if (batch * 25 === 150) await dropped.opened
        if (batch * 25 === 300) {
          downPhaseDone.open()
          await resuming.opened
        }
        const replies = await publishMany(publisher.client, {
          stream,
          epoch: 0,
          seqs: range(batch * 25, 25),
          data,
        })
        if (replies.some((r) => r.t !== 'puback')) throw new Error(JSON.stringify(replies))
      }
    })()

    await waitUntil(first.client, () => before.length >= 100, { what: '100 messages' })
    // A network drop: no close frame; the server may not have noticed yet.
    first.client.destroy()
    await first.client.closed
    dropped.open()
    const lastSeen = before.at(-1)?.offset ?? 0
    const epoch = before.at(-1)?.epoch ?? ''
    expect(before.map((m) => m.offset)).toEqual(range(1, lastSeen))
    expect(lastSeen).toBeLessThanOrEqual(150)
    await downPhaseDone.opened

    const second = await greet(server.wsUrl, {
      token: 'sue',
      clientId: first.welcome.clientId,
      secret: first.welcome.secret as string,
      takeover: first.welcome.connectionId,
      resume: [{ stream, epoch, offset: lastSeen }],
    })
    expect(second.welcome.clientId).toBe(first.welcome.clientId)
    resuming.open()
    const after: MsgFrame[] = []
    const controls: (CaughtUpFrame | ResetFrame)[] = []
    watchFrames(
      second.client,
      (f) => {
        if (f.t === 'msg' && f.stream === stream) after.push(f)
        if ((f.t === 'caughtUp' || f.t === 'reset') && f.stream === stream) controls.push(f)
      },
      { fromStart: true },
    )
    await publishing
    await waitUntil(second.client, () => (after.at(-1)?.offset ?? 0) >= total, {
      what: `message ${total}`,
    })

    expect(controls).toHaveLength(1)
    expect(controls[0]).toMatchObject({ t: 'caughtUp', stream, epoch, recovered: true })
    const replayedUpTo = (controls[0] as CaughtUpFrame).head
    expect(replayedUpTo).toBeGreaterThanOrEqual(300)
    // No gap, no duplicate, in order — across both connections.
    const offsets = [...before, ...after].map((m) => m.offset)
    expect(offsets).toEqual(range(1, total))
    expect([...before, ...after].map((m) => m.data)).toEqual(range(0, total).map(data))
    // `caughtUp` comes right after the last replayed message.
    const caughtUpIndex = second.client.frames.findIndex((f) => f.t === 'caughtUp')
    const lastReplayed = second.client.frames
      .slice(0, caughtUpIndex)
      .filter((f): f is MsgFrame => f.t === 'msg')
      .at(-1)
    expect(lastReplayed?.offset).toBe(replayedUpTo)

    await Promise.all([second.client.close(), publisher.client.close()])
  })

  it('resumes from the server-side cursor when sub names no position', async () => {
    const stream = 'room:cursor'
    const first = await greet(server.wsUrl, { token: 'sam' })
    const { clientId, secret } = first.welcome
    await subscribeUntilCaughtUp(first.client, stream, 'latest')
    const publisher = await greet(server.wsUrl, { token: 'pat' })
    await publishMany(publisher.client, { stream, epoch: 0, seqs: range(0, 50), data })
    await waitUntil(
      first.client,
      () => first.client.frames.some((f) => f.t === 'msg' && f.offset === 50),
      { what: 'message 50' },
    )
    first.client.send({ t: 'ack', stream, offset: 30 })
    // Frames are handled in order: the pong proves the ack was taken.
    first.client.send({ t: 'ping' })
    await first.client.next('pong')
    expect(first.client.frames.filter((f) => f.t === 'error')).toEqual([])
    await first.client.close()

    await publishMany(publisher.client, { stream, epoch: 0, seqs: range(50, 30), data })

    const second = await greet(server.wsUrl, { token: 'sam', clientId, secret: secret as string })
    const resumed = await subscribeUntilCaughtUp(second.client, stream, undefined)
    expect(resumed.resets).toEqual([])
    expect(resumed.msgs.map((m) => m.offset)).toEqual(range(31, 50))
    expect(resumed.caughtUp).toMatchObject({
      epoch: resumed.msgs[0]?.epoch,
      head: 80,
      recovered: true,
    })

    // Live delivery continues after the replay.
    await publishMany(publisher.client, { stream, epoch: 0, seqs: [80], data })
    const live = await second.client.next<MsgFrame>((f) => f.t === 'msg' && f.offset > 80)
    expect(live).toMatchObject({ stream, offset: 81, data: data(80) })
    await Promise.all([second.client.close(), publisher.client.close()])
  })
})
