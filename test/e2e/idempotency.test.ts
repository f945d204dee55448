import type { NackFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchFrames, waitUntil } from '../support/frame-watch.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { type PubReply, greet, publishMany, range, readStream } from '../support/wire-session.js'

// G4 Idempotent publish: a publish is identified by (producer, producer epoch, seq); retrying it
// any number of times, on any connection, yields one message with one offset.

const STREAM = 'room:idem'

/** Payload naming the publish, so the stream's content can be checked against the publishes. */
const payload = (producer: string, epoch: number) => (seq: number) => ({ producer, epoch, seq })

/**
 * Collects publish replies across connections: the offset each distinct publish got, and checks
 * every duplicate against it.
 */
class Ledger {
  readonly offsets = new Map<string, number>()
  readonly duplicates: PubackFrame[] = []
  readonly mismatches: string[] = []

  record(producer: string, epoch: number, reply: PubReply): void {
    if (reply.t !== 'puback') throw new Error(`unexpected nack: ${JSON.stringify(reply)}`)
    const key = `${producer}/${epoch}/${reply.seq}`
    const known = this.offsets.get(key)
    if (reply.duplicate === true) {
      this.duplicates.push(reply)
      if (known !== undefined && known !== reply.offset) {
        this.mismatches.push(`${key}: duplicate says ${reply.offset}, original was ${known}`)
      }
    } else if (known !== undefined) {
      this.mismatches.push(`${key}: appended twice, at ${known} and ${reply.offset}`)
    }
    if (known === undefined) this.offsets.set(key, reply.offset)
  }
}

describe('idempotent publish (G4)', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: ['--publish-rate', '100000', '--publish-burst', '100000'],
    })
  })
  afterAll(() => server?.dispose())

  it('writes each of 1,000 distinct publishes once despite retries, takeovers and a new producer epoch', async () => {
    const ledger = new Ledger()

    // Producer B: a connection dies while 400 publishes are in flight; the reconnect (takeover of
    // its own stale connection) resends from well below what was acked, pipelined, with some
    // seqs sent twice in a row.
    const producerB = async (): Promise<string> => {
      const first = await greet(server.wsUrl, { token: 'ben' })
      const { clientId, secret } = first.welcome
      const acked: PubackFrame[] = []
      watchFrames(first.client, (f) => f.t === 'puback' && acked.push(f))
      for (const seq of range(0, 400)) {
        first.client.send({ t: 'pub', stream: STREAM, epoch: 0, seq, data: payload('B', 0)(seq) })
      }
      await waitUntil(first.client, () => acked.length >= 150, { what: '150 pubacks' })
      first.client.destroy()
      await first.client.closed
      for (const ack of acked) ledger.record('B', 0, ack)
      expect(acked.map((a) => a.seq)).toEqual(range(0, acked.length))

      const second = await greet(server.wsUrl, {
        token: 'ben',
        clientId,
        secret,
        takeover: first.welcome.connectionId,
      })
      expect(second.welcome.clientId).toBe(clientId)
      expect(second.welcome.replaced).toBeUndefined()
      const retried = [...range(100, 400), ...range(450, 50)]
      const replies = await publishMany(second.client, {
        stream: STREAM,
        epoch: 0,
        seqs: retried,
        data: payload('B', 0),
      })
      expect(replies.map((r) => r.seq)).toEqual(retried)
      for (const reply of replies) ledger.record('B', 0, reply)
      // Everything the first connection saw acked comes back as a duplicate on the second.
      for (const reply of replies.slice(0, acked.length - 100)) {
        expect(reply).toMatchObject({ t: 'puback', duplicate: true })
      }
      // The seqs sent twice on the second connection: the second copy is a duplicate.
      for (const reply of replies.slice(400)) {
        expect(reply).toMatchObject({ t: 'puback', duplicate: true })
      }
      await second.client.close()
      return clientId
    }

    // Producer A: 300 publishes in epoch 0, a retry of the last 20, then a restart without its
    // state (epoch 1, seq 0…199); the old epoch is fenced from then on.
    const producerA = async (): Promise<{ fenced: NackFrame[]; invalid: NackFrame }> => {
      const first = await greet(server.wsUrl, { token: 'ann' })
      const { clientId, secret } = first.welcome
      const epoch0 = await publishMany(first.client, {
        stream: STREAM,
        epoch: 0,
        seqs: range(0, 300),
        data: payload('A', 0),
      })
      for (const reply of epoch0) ledger.record('A', 0, reply)
      expect(epoch0.some((r) => r.t === 'puback' && r.duplicate === true)).toBe(false)
      const retries = await publishMany(first.client, {
        stream: STREAM,
        epoch: 0,
        seqs: range(280, 20),
        data: payload('A', 0),
      })
      for (const reply of retries) {
        expect(reply).toMatchObject({ t: 'puback', duplicate: true })
        ledger.record('A', 0, reply)
      }
      await first.client.close()

      const second = await greet(server.wsUrl, { token: 'ann', clientId, secret })
      expect(second.welcome.clientId).toBe(clientId)
      const epoch1 = await publishMany(second.client, {
        stream: STREAM,
        epoch: 1,
        seqs: range(0, 200),
        data: payload('A', 1),
      })
      for (const reply of epoch1) ledger.record('A', 1, reply)
      expect(epoch1.some((r) => r.t === 'puback' && r.duplicate === true)).toBe(false)

      const stale = await publishMany(second.client, {
        stream: STREAM,
        epoch: 0,
        seqs: [299, 300, 0],
        data: payload('A', 0),
      })
      const [invalid] = await publishMany(second.client, {
        stream: STREAM,
        epoch: 2,
        seqs: [5],
        data: payload('A', 2),
      })
      await second.client.close()
      return { fenced: stale as NackFrame[], invalid: invalid as NackFrame }
    }

    const [, a] = await Promise.all([producerB(), producerA()])

    expect(a.fenced).toHaveLength(3)
    for (const nack of a.fenced) {
      expect(nack).toMatchObject({
        t: 'nack',
        stream: STREAM,
        code: 'PRODUCER_FENCED',
        producerEpoch: 1,
      })
    }
    expect(a.fenced.map((n) => n.seq)).toEqual([299, 300, 0])
    expect(a.invalid).toMatchObject({ t: 'nack', seq: 5, code: 'INVALID_PRODUCER' })

    expect(ledger.mismatches).toEqual([])
    expect(ledger.offsets.size).toBe(1000)
    expect([...ledger.offsets.values()].sort((x, y) => x - y)).toEqual(range(1, 1000))
    expect(ledger.duplicates.length).toBeGreaterThanOrEqual(20 + 50 + 50)

    const { msgs, caughtUp } = await readStream(server.wsUrl, 'carol', STREAM, 'earliest')
    expect(caughtUp.head).toBe(1000)
    expect(msgs.map((m) => m.offset)).toEqual(range(1, 1000))
    // Exactly one message per distinct publish, each at the offset its puback announced.
    const seen = new Set<string>()
    for (const m of msgs) {
      const d = m.data as { producer: string; epoch: number; seq: number }
      const key = `${d.producer}/${d.epoch}/${d.seq}`
      expect(seen.has(key)).toBe(false)
      seen.add(key)
      expect(ledger.offsets.get(key)).toBe(m.offset)
      expect(m.seq).toBe(d.seq)
    }
    expect(seen.size).toBe(1000)
  })

  it('refuses a seq that skips ahead with PRODUCER_SEQ_GAP and writes nothing', async () => {
    const stream = 'room:gap'
    const { client } = await greet(server.wsUrl, { token: 'dan' })
    const [first] = await publishMany(client, { stream, epoch: 0, seqs: [0], data: (s) => s })
    expect(first).toMatchObject({ t: 'puback', seq: 0, offset: 1 })

    const [gap] = await publishMany(client, { stream, epoch: 0, seqs: [5], data: (s) => s })
    expect(gap).toMatchObject({
      t: 'nack',
      stream,
      seq: 5,
      code: 'PRODUCER_SEQ_GAP',
      expectedSeq: 1,
    })
    const [next] = await publishMany(client, { stream, epoch: 0, seqs: [1], data: (s) => s })
    expect(next).toMatchObject({ t: 'puback', seq: 1, offset: 2 })
    expect(next).not.toHaveProperty('duplicate')

    // A producer the stream has never seen must start at seq 0.
    const other = await greet(server.wsUrl, { token: 'eve' })
    const [fresh] = await publishMany(other.client, { stream, epoch: 0, seqs: [3], data: (s) => s })
    expect(fresh).toMatchObject({ t: 'nack', code: 'PRODUCER_SEQ_GAP', expectedSeq: 0 })

    const { msgs, caughtUp } = await readStream(server.wsUrl, 'dan', stream, 'earliest')
    expect(caughtUp.head).toBe(2)
    expect(msgs.map((m) => [m.offset, m.data])).toEqual([
      [1, 0],
      [2, 1],
    ])
    await Promise.all([client.close(), other.client.close()])
  })
})
