import type { MsgFrame, ResetFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { DeliveryTracker, type TrackerAction } from './delivery-tracker.js'

const msg = (offset: number, epoch = 'e1'): MsgFrame => ({
  t: 'msg',
  stream: 's',
  offset,
  epoch,
  producer: null,
  seq: null,
  from: null,
  ts: 0,
  data: offset,
})
const reset = (head: number, epoch = 'e1'): ResetFrame => ({
  t: 'reset',
  stream: 's',
  reason: 'truncated',
  epoch,
  head,
  tail: head - 5,
})
const delivered = (actions: TrackerAction[]): number[] =>
  actions.flatMap((a) => (a.kind === 'deliver' ? [a.msg.offset] : []))

describe('DeliveryTracker', () => {
  it('delivers consecutive messages and drops duplicates', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 0 })
    t.subscribe(undefined)
    const out = [1, 2, 2, 1, 3].flatMap((o) => t.msg(msg(o)))
    expect(delivered(out)).toEqual([1, 2, 3])
    expect(t.position).toEqual({ epoch: 'e1', offset: 3 })
  })

  it('resubscribes once from the last position on a gap, then delivers the replay', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 1 })
    t.subscribe(undefined)
    t.caughtUp({ t: 'caughtUp', stream: 's', epoch: 'e1', head: 1, recovered: true })
    const gap = [...t.msg(msg(3)), ...t.msg(msg(4))]
    expect(gap).toEqual([{ kind: 'resubscribe', from: { epoch: 'e1', offset: 1 } }])
    const replay = [2, 3, 4].flatMap((o) => t.msg(msg(o)))
    expect(delivered(replay)).toEqual([2, 3, 4])
    const done = t.caughtUp({ t: 'caughtUp', stream: 's', epoch: 'e1', head: 4, recovered: true })
    expect(done).toEqual([{ kind: 'subscribed', recovered: true, wasRecovering: true }])
  })

  it('treats a message of another epoch as a gap', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 5 })
    expect(t.msg(msg(1, 'e2'))).toEqual([{ kind: 'resubscribe', from: { epoch: 'e1', offset: 5 } }])
  })

  it('follows a stream created after it subscribed: offset 0 of no epoch takes the first message', () => {
    const t = new DeliveryTracker(undefined)
    t.subscribe('latest')
    t.caughtUp({ t: 'caughtUp', stream: 's', epoch: '', head: 0, recovered: false })
    expect(t.position).toEqual({ epoch: '', offset: 0 })
    expect(delivered(t.msg(msg(1, 'e9')))).toEqual([1])
    expect(delivered(t.msg(msg(2, 'e9')))).toEqual([2])
    expect(t.position).toEqual({ epoch: 'e9', offset: 2 })
  })

  it('adopts the epoch of a stream created empty while it waited at offset 0', () => {
    const t = new DeliveryTracker({ epoch: '', offset: 0 })
    t.subscribe(undefined)
    const actions = t.caughtUp({
      t: 'caughtUp',
      stream: 's',
      epoch: 'e9',
      head: 0,
      recovered: true,
    })
    expect(actions.map((a) => a.kind)).toEqual(['subscribed'])
    expect(t.position).toEqual({ epoch: 'e9', offset: 0 })
  })

  it('takes the head as its position when subscribed from latest without one', () => {
    const t = new DeliveryTracker(undefined)
    expect(t.subscribe('latest')).toBe('latest')
    expect(
      t.caughtUp({ t: 'caughtUp', stream: 's', epoch: 'e1', head: 7, recovered: false }),
    ).toEqual([{ kind: 'subscribed', recovered: false, wasRecovering: false }])
    expect(delivered(t.msg(msg(8)))).toEqual([8])
  })

  it('resumes from its position rather than the fallback', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    expect(t.subscribe('latest')).toEqual({ epoch: 'e1', offset: 3 })
  })

  it('catches up when a replay ends below the head', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    t.subscribe(undefined)
    const out = t.caughtUp({ t: 'caughtUp', stream: 's', epoch: 'e1', head: 5, recovered: true })
    expect(out).toEqual([{ kind: 'resubscribe', from: { epoch: 'e1', offset: 3 } }])
  })

  it('continues from the head after a reset without snapshot, telling the app first', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    t.subscribe(undefined)
    const out = t.reset(reset(20, 'e2'), false)
    expect(out[0]).toMatchObject({ kind: 'reset', position: { epoch: 'e2', offset: 20 } })
    expect(out[1]).toEqual({ kind: 'subscribed', recovered: false, wasRecovering: true })
    expect(delivered(t.msg(msg(21, 'e2')))).toEqual([21])
  })

  it('buffers messages injected during the snapshot fetch and delivers only those past it', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    t.subscribe(undefined)
    const r = reset(20)
    expect(t.reset(r, true)).toEqual([{ kind: 'fetchSnapshot', reset: r }])
    // Live messages keep coming while the app's HTTP snapshot is in flight.
    expect([21, 22, 23, 24, 22].flatMap((o) => t.msg(msg(o)))).toEqual([])
    expect(t.buffered).toBe(5)
    // The snapshot already includes up to 22.
    const out = t.snapshot(r, { epoch: 'e1', offset: 22 })
    expect(out[0]).toMatchObject({ kind: 'reset', position: { epoch: 'e1', offset: 22 } })
    expect(delivered(out)).toEqual([23, 24])
    expect(t.position).toEqual({ epoch: 'e1', offset: 24 })
    expect(t.fetchingSnapshot).toBe(false)
  })

  it('catches up when the snapshot is older than the buffered live messages', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    const r = reset(20)
    t.reset(r, true)
    t.msg(msg(21))
    const out = t.snapshot(r, { epoch: 'e1', offset: 18 })
    expect(delivered(out)).toEqual([])
    expect(out.at(-1)).toEqual({ kind: 'resubscribe', from: { epoch: 'e1', offset: 18 } })
  })

  it('ignores further resets while a snapshot is being fetched and keeps buffering', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 })
    const r = reset(20)
    t.reset(r, true)
    t.msg(msg(21))
    t.disconnected()
    t.subscribe(undefined)
    expect(t.reset(reset(25), true)).toEqual([])
    t.msg(msg(26))
    const out = t.snapshot(r, { epoch: 'e1', offset: 25 })
    expect(delivered(out)).toEqual([26])
  })

  it('catches up after the snapshot when the buffer overflowed', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 3 }, 2)
    const r = reset(20)
    t.reset(r, true)
    ;[21, 22, 23, 24].forEach((o) => t.msg(msg(o)))
    const out = t.snapshot(r, { epoch: 'e1', offset: 20 })
    expect(delivered(out)).toEqual([21, 22])
    expect(out.at(-1)).toEqual({ kind: 'resubscribe', from: { epoch: 'e1', offset: 22 } })
  })

  it('delivers every message exactly once in order under random duplication and gaps', () => {
    const t = new DeliveryTracker({ epoch: 'e1', offset: 0 })
    const seen: number[] = []
    let position = 0
    let rng = 42
    const random = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    while (position < 500) {
      // The wire: from the requested position, some frames duplicated, some lost.
      const from = position
      for (let o = from + 1; o <= Math.min(from + 20, 500); o++) {
        if (random() < 0.1) continue
        const times = random() < 0.2 ? 2 : 1
        for (let k = 0; k < times; k++) {
          for (const a of t.msg(msg(o))) if (a.kind === 'deliver') seen.push(a.msg.offset)
        }
      }
      t.disconnected()
      position = t.position?.offset ?? 0
    }
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
  })
})
