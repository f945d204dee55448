import type { ClientFrame, Message, ResetFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { AckBatcher } from './ack-batcher.js'
import { ManualClock } from './manual-clock.js'
import { PositionStore } from './position-store.js'
import { MemoryStorage } from './storage/memory-storage.js'
import { StorageWriter } from './storage-writer.js'
import { StreamSubscription, type SubscribeOptions } from './stream-subscription.js'

function setup(
  options: Partial<SubscribeOptions<unknown>> = {},
  stored?: { epoch: string; offset: number },
) {
  const clock = new ManualClock()
  const storage = new MemoryStorage()
  if (stored !== undefined) void storage.set('ns/pos/s', stored)
  const acked: ClientFrame[] = []
  const backoff = { baseMs: 1000, maxMs: 8000 }
  const writer = new StorageWriter({ storage, clock, random: () => 0.5, backoff, onError() {} })
  const positions = new PositionStore(storage, writer)
  positions.use('ns/')
  const sent: ClientFrame[] = []
  const errors: Error[] = []
  const seen: Message[] = []
  let ended = false
  const subscription = new StreamSubscription(
    {
      stream: 's',
      send: (frame) => sent.push(frame) > 0,
      isOpen: () => true,
      positions,
      acks: new AckBatcher(clock, 10, (frame) => acked.push(frame) > 0),
      clock,
      random: () => 0.5,
      backoff,
      subscribed() {},
      error: (error) => errors.push(error),
    },
    { onMessage: (m) => void seen.push(m), ...options },
    () => (ended = true),
  )
  return { clock, subscription, sent, acked, errors, seen, ended: () => ended }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))
const reset: ResetFrame = {
  t: 'reset',
  stream: 's',
  reason: 'truncated',
  epoch: 'e',
  head: 5,
  tail: 3,
}
const msg = (offset: number) =>
  ({
    t: 'msg',
    stream: 's',
    offset,
    epoch: 'e',
    producer: null,
    seq: null,
    from: null,
    ts: 0,
    data: offset,
  }) as const

describe('StreamSubscription', () => {
  it('goes loading → subscribing → following and sends sub once the position is read', async () => {
    const { subscription, sent } = setup()
    expect(subscription.state.kind).toBe('loading')
    await settle()
    expect(subscription.state.kind).toBe('subscribing')
    expect(sent).toEqual([{ t: 'sub', stream: 's' }])
    subscription.receive({ t: 'caughtUp', stream: 's', epoch: 'e', head: 0, recovered: false })
    expect(subscription.state.kind).toBe('following')
    await expect(subscription.ready).resolves.toMatchObject({ recovered: false })
  })

  it('acks the position it resumed from once caught up (stored, maybe never acked, before a reload)', async () => {
    const { subscription, sent, acked, clock } = setup({}, { epoch: 'e', offset: 4 })
    await settle()
    expect(sent).toEqual([{ t: 'sub', stream: 's', from: { epoch: 'e', offset: 4 } }])
    // Nothing new: without the ack of the resumed position the server would never learn of 4.
    subscription.receive({ t: 'caughtUp', stream: 's', epoch: 'e', head: 4, recovered: true })
    await subscription.ready
    clock.advance(10)
    expect(acked).toEqual([{ t: 'ack', stream: 's', offset: 4 }])
  })

  it('fails on a refusal while subscribing and is not sent again on reconnect', async () => {
    const { subscription, sent, errors } = setup()
    await settle()
    subscription.refused({ t: 'error', code: 'FORBIDDEN', message: 'no', stream: 's' })
    expect(subscription.state).toMatchObject({ kind: 'failed', error: { code: 'FORBIDDEN' } })
    await expect(subscription.ready).rejects.toMatchObject({ code: 'FORBIDDEN' })
    subscription.opened()
    expect(sent).toHaveLength(1)
    expect(errors).toHaveLength(1)
  })

  it('reports a refusal once following without ending the subscription', async () => {
    const { subscription, errors } = setup()
    await settle()
    subscription.receive({ t: 'caughtUp', stream: 's', epoch: 'e', head: 0, recovered: false })
    subscription.refused({ t: 'error', code: 'FORBIDDEN', message: 'no signals', stream: 's' })
    expect(subscription.state.kind).toBe('following')
    expect(errors).toMatchObject([{ code: 'FORBIDDEN' }])
  })

  it('resyncs from a snapshot retried with backoff, then follows past its position', async () => {
    let calls = 0
    const { subscription, clock, errors, seen } = setup({
      snapshot: async () => {
        calls += 1
        if (calls === 1) throw new Error('app server down')
        return { position: { epoch: 'e', offset: 6 } }
      },
    })
    await settle()
    subscription.receive(reset)
    expect(subscription.state.kind).toBe('resyncing')
    await settle()
    expect(errors).toMatchObject([{ code: 'SNAPSHOT_FAILED' }])
    subscription.receive(msg(6))
    subscription.receive(msg(7))
    clock.advance(500)
    await settle()
    expect(subscription.state.kind).toBe('following')
    await settle()
    expect(seen.map((m) => m.offset)).toEqual([7])
  })

  it('ends for good: nothing runs or stays scheduled afterwards', async () => {
    const { subscription, clock, seen, ended } = setup({
      snapshot: () => Promise.reject(new Error('down')),
    })
    await settle()
    subscription.receive(reset)
    await settle()
    subscription.end()
    expect(subscription.state.kind).toBe('ended')
    expect(ended()).toBe(true)
    subscription.receive(msg(6))
    clock.advance(60_000)
    await settle()
    expect(seen).toEqual([])
    expect(clock.pending).toBe(0)
    await expect(subscription.ready).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
  })
})
