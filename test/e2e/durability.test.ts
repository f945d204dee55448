import type { PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, publishMany, range, readStream } from '../support/wire-session.js'

// G1 Accepted = durable: a `puback` is sent only after the commit, so every acknowledged message
// survives a kill -9 that lands right after the last ack.

const COUNT = 300

describe('durability (G1)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: ['--publish-rate', '100000', '--publish-burst', '100000'],
    })
  })
  afterAll(() => server?.dispose())

  it('keeps every acknowledged message with its offset and data across kill -9', async () => {
    const { client } = await greet(server.wsUrl, { token: 'alice' })
    const data = (seq: number): unknown => ({ n: seq, text: `message ${seq}`, nested: [seq, null] })
    const replies = await publishMany(client, {
      stream: 'room:durable',
      epoch: 0,
      seqs: range(0, COUNT),
      data,
    })
    // Killed as soon as the last ack is in: nothing gets a chance to flush after it.
    await server.kill9()

    const acks = replies.filter((r): r is PubackFrame => r.t === 'puback')
    expect(acks).toHaveLength(COUNT)
    expect(acks.map((a) => a.seq)).toEqual(range(0, COUNT))
    expect(acks.map((a) => a.offset)).toEqual(range(1, COUNT))
    const epoch = acks[0]?.epoch as string
    expect(acks.every((a) => a.epoch === epoch)).toBe(true)

    await server.restart()
    const { msgs, caughtUp, resets } = await readStream(server.wsUrl, 'bob', 'room:durable', {
      epoch,
      offset: 0,
    })
    expect(resets).toEqual([])
    expect(caughtUp).toMatchObject({ epoch, head: COUNT, recovered: true })
    expect(msgs.map((m) => m.offset)).toEqual(acks.map((a) => a.offset))
    expect(msgs.map((m) => m.data)).toEqual(range(0, COUNT).map(data))
    expect(msgs.every((m) => m.epoch === epoch && m.from === 'alice')).toBe(true)
    expect(msgs.map((m) => m.seq)).toEqual(range(0, COUNT))
  })

  it('keeps acknowledged messages of interleaved producers across kill -9', async () => {
    const producers = await Promise.all(
      ['ann', 'ben', 'cat'].map((token) => greet(server.wsUrl, { token })),
    )
    const all = await Promise.all(
      producers.map(({ client, welcome }) =>
        publishMany(client, {
          stream: 'room:shared',
          epoch: 0,
          seqs: range(0, 100),
          data: (seq) => ({ by: welcome.clientId, seq }),
        }),
      ),
    )
    await server.kill9()

    const acked = new Map<number, unknown>()
    all.forEach((replies, i) => {
      const by = producers[i]?.welcome.clientId
      for (const r of replies) {
        if (r.t !== 'puback') throw new Error(`publish refused: ${JSON.stringify(r)}`)
        acked.set(r.offset, { by, seq: r.seq })
      }
    })
    expect([...acked.keys()].sort((a, b) => a - b)).toEqual(range(1, 300))

    await server.restart()
    const { msgs } = await readStream(server.wsUrl, 'bob', 'room:shared', 'earliest')
    expect(msgs.map((m) => m.offset)).toEqual(range(1, 300))
    for (const m of msgs) expect(m.data).toEqual(acked.get(m.offset))
  })
})
