import type { NackFrame, PubFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { FlakyStorage } from '../../../test/support/flaky-storage.js'
import { ManualClock } from './manual-clock.js'
import { Outbox, type PublishOutcome } from './outbox.js'
import { MemoryStorage } from './storage/memory-storage.js'
import type { Storage } from './storage/storage.js'
import { StorageWriter } from './storage-writer.js'

function setup(storage: Storage = new MemoryStorage(), maxInFlight = 64) {
  const clock = new ManualClock()
  const sent: PubFrame[] = []
  const settled: PublishOutcome[] = []
  const errors: Error[] = []
  const writer = new StorageWriter({
    storage,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 500, maxMs: 30_000 },
    onError: (error) => errors.push(error),
  })
  const outbox = new Outbox({
    storage,
    writer,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 500, maxMs: 30_000 },
    maxInFlight,
    send: (frame) => {
      sent.push(frame)
      return true
    },
    onSettled: (_entry, outcome) => settled.push(outcome),
  })
  return { clock, sent, settled, errors, outbox, storage, writer }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))
const puback = (seq: number, offset = seq + 1) =>
  ({ t: 'puback', stream: 's', seq, offset, epoch: 'e1' }) as const
const nack = (seq: number, code: NackFrame['code'], extra: Partial<NackFrame> = {}): NackFrame => ({
  t: 'nack',
  stream: 's',
  seq,
  code,
  message: code,
  ...extra,
})

describe('Outbox', () => {
  it('assigns consecutive seqs per stream and sends only when open', async () => {
    const { outbox, sent } = setup()
    await outbox.load('ns/', 0)
    void outbox.publish('s', 'a')
    void outbox.publish('s', 'b')
    void outbox.publish('t', 'c')
    await flush()
    expect(sent).toEqual([])
    outbox.opened()
    expect(sent.map((f) => [f.stream, f.seq, f.data])).toEqual([
      ['s', 0, 'a'],
      ['s', 1, 'b'],
      ['t', 0, 'c'],
    ])
  })

  it('resolves a publish with its offset on puback', async () => {
    const { outbox } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    const p = outbox.publish('s', 'a')
    await flush()
    outbox.puback({ ...puback(0, 42), duplicate: true })
    await expect(p).resolves.toEqual({
      stream: 's',
      offset: 42,
      epoch: 'e1',
      seq: 0,
      duplicate: true,
    })
    expect(outbox.size).toBe(0)
  })

  it('pipelines up to maxInFlight and sends more as pubacks arrive', async () => {
    const { outbox, sent } = setup(new MemoryStorage(), 2)
    await outbox.load('ns/', 0)
    outbox.opened()
    for (let i = 0; i < 4; i++) void outbox.publish('s', i)
    await flush()
    expect(sent.map((f) => f.seq)).toEqual([0, 1])
    outbox.puback(puback(0))
    expect(sent.map((f) => f.seq)).toEqual([0, 1, 2])
  })

  it('re-sends unacknowledged publishes after a reconnect with the same seqs', async () => {
    const { outbox, sent } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    void outbox.publish('s', 'a')
    void outbox.publish('s', 'b')
    await flush()
    outbox.puback(puback(0))
    outbox.disconnected()
    outbox.opened()
    expect(sent.map((f) => f.seq)).toEqual([0, 1, 1])
  })

  it('restores pending publishes after a reload and continues their numbering', async () => {
    const first = setup()
    await first.outbox.load('ns/', 0)
    void first.outbox.publish('s', 'a').catch(() => {})
    void first.outbox.publish('s', 'b').catch(() => {})
    await flush()
    first.outbox.close()

    const second = setup(first.storage)
    await second.outbox.load('ns/', 1)
    expect(second.outbox.size).toBe(2)
    second.outbox.opened()
    void second.outbox.publish('s', 'c')
    await flush()
    expect(second.sent.map((f) => [f.epoch, f.seq, f.data])).toEqual([
      [0, 0, 'a'],
      [0, 1, 'b'],
      [0, 2, 'c'],
    ])
  })

  it('keeps the seq counter after every publish was acknowledged', async () => {
    const first = setup()
    await first.outbox.load('ns/', 0)
    first.outbox.opened()
    void first.outbox.publish('s', 'a')
    await flush()
    first.outbox.puback(puback(0))
    await flush()
    const second = setup(first.storage)
    await second.outbox.load('ns/', 1)
    second.outbox.opened()
    void second.outbox.publish('s', 'b')
    await flush()
    expect(second.sent.map((f) => [f.epoch, f.seq])).toEqual([[0, 1]])
  })

  it('retries after RATE_LIMITED with a delay', async () => {
    const { outbox, sent, clock } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    void outbox.publish('s', 'a')
    await flush()
    outbox.nack(nack(0, 'RATE_LIMITED'))
    expect(sent).toHaveLength(1)
    clock.advance(300)
    expect(sent.map((f) => f.seq)).toEqual([0, 0])
  })

  it('fails a refused publish and renumbers the ones behind it', async () => {
    const { outbox, sent, clock } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    const a = outbox.publish('s', 'a')
    const b = outbox.publish('s', 'b')
    await flush()
    outbox.nack(nack(0, 'PAYLOAD_TOO_LARGE'))
    outbox.nack(nack(1, 'PRODUCER_SEQ_GAP', { expectedSeq: 0 }))
    await expect(a).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    await flush()
    clock.advance(0)
    expect(sent.at(-1)).toMatchObject({ seq: 0, data: 'b' })
    outbox.puback(puback(0, 9))
    await expect(b).resolves.toMatchObject({ offset: 9 })
  })

  it('rejects everything pending with PRODUCER_FENCED and refuses new publishes', async () => {
    const { outbox } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    const a = outbox.publish('s', 'a')
    await flush()
    outbox.nack(nack(0, 'PRODUCER_FENCED', { producerEpoch: 3 }))
    await expect(a).rejects.toMatchObject({ code: 'PRODUCER_FENCED' })
    await expect(outbox.publish('s', 'b')).rejects.toMatchObject({ code: 'PRODUCER_FENCED' })
  })

  it('renumbers from 0 in a new epoch when rebound to a replaced client id', async () => {
    const { outbox, sent } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    void outbox.publish('s', 'a')
    void outbox.publish('s', 'b')
    await flush()
    outbox.puback(puback(0))
    outbox.disconnected()
    outbox.rebind('unknown', 'ns/', 0)
    await flush()
    sent.length = 0
    outbox.opened()
    expect(sent.map((f) => [f.epoch, f.seq, f.data])).toEqual([[1, 0, 'b']])
  })

  it('keeps only its own publishes when it turns out to be a duplicated tab', async () => {
    const storage = new MemoryStorage()
    const original = setup(storage)
    await original.outbox.load('tab/', 0)
    void original.outbox.publish('s', 'theirs').catch(() => {})
    await flush()

    const copy = setup(storage)
    await copy.outbox.load('tab/', 0)
    void copy.outbox.publish('s', 'mine')
    await flush()
    copy.outbox.rebind('in-use', 'copy/', 0)
    await flush()
    copy.outbox.opened()
    expect(copy.sent.map((f) => [f.seq, f.data])).toEqual([[0, 'mine']])
    expect((await storage.keys('tab/ob/')).length).toBe(1)
    expect((await storage.keys('copy/ob/')).length).toBe(1)
  })

  it('resolves flushed() once nothing is pending', async () => {
    const { outbox } = setup()
    await outbox.load('ns/', 0)
    outbox.opened()
    void outbox.publish('s', 'a')
    let done = false
    void outbox.flushed().then(() => (done = true))
    await flush()
    expect(done).toBe(false)
    outbox.puback(puback(0))
    await flush()
    expect(done).toBe(true)
  })

  it('holds publishes whose writes fail and sends each once, in order, when a retry succeeds', async () => {
    const storage = new FlakyStorage()
    const { outbox, sent, clock, errors } = setup(storage)
    await outbox.load('ns/', 0)
    outbox.opened()
    storage.failNextWrites(3)
    const results = [outbox.publish('s', 'a'), outbox.publish('s', 'b')]
    await flush()
    expect(sent).toEqual([])
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['STORAGE_FAILED'])
    clock.advance(250)
    await flush()
    clock.advance(500)
    await flush()
    expect(sent.map((f) => [f.seq, f.data])).toEqual([
      [0, 'a'],
      [1, 'b'],
    ])
    outbox.puback(puback(0))
    outbox.puback(puback(1))
    await expect(Promise.all(results)).resolves.toHaveLength(2)
    expect(await storage.keys('ns/ob/')).toEqual([])
    expect(await storage.get('ns/pr/s')).toEqual({ epoch: 0, nextSeq: 2 })
  })

  it('renumbers on rebind and sends once the writes that failed have gone through', async () => {
    const storage = new FlakyStorage()
    const { outbox, sent, clock } = setup(storage)
    await outbox.load('ns/', 0)
    void outbox.publish('s', 'a')
    await flush()
    storage.failNextWrites(2)
    outbox.rebind('unknown', 'ns/', 0)
    outbox.opened()
    await flush()
    expect(sent).toEqual([])
    clock.advance(30_000)
    await flush()
    expect(sent.map((f) => [f.epoch, f.seq, f.data])).toEqual([[1, 0, 'a']])
    expect(await storage.get('ns/pr/s')).toEqual({ epoch: 1, nextSeq: 1 })
  })
})
