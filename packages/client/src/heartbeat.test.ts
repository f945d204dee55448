import { describe, expect, it } from 'vitest'
import { Heartbeat } from './heartbeat.js'
import { ManualClock } from './manual-clock.js'

function setup(intervalMs = 1000) {
  const clock = new ManualClock()
  const events: string[] = []
  let timedOutAt: number | undefined
  const heartbeat = new Heartbeat(
    clock,
    {
      ping: () => events.push(`ping@${clock.now() - start}`),
      onTimeout: () => {
        timedOutAt = clock.now() - start
        events.push(`timeout@${timedOutAt}`)
      },
    },
    intervalMs,
  )
  const start = clock.now()
  heartbeat.start()
  return { clock, events, heartbeat, timedOut: () => timedOutAt }
}

describe('Heartbeat', () => {
  it('pings twice per interval', () => {
    const { clock, events, heartbeat } = setup()
    for (let i = 0; i < 12; i++) {
      clock.advance(125)
      heartbeat.received()
    }
    expect(events).toEqual(['ping@500', 'ping@1000', 'ping@1500'])
  })

  it('detects a silent server within 1.125 intervals', () => {
    const { clock, timedOut } = setup()
    clock.advance(2000)
    expect(timedOut()).toBeDefined()
    expect(timedOut()!).toBeLessThanOrEqual(1125)
    expect(timedOut()!).toBeGreaterThanOrEqual(1000)
  })

  it('stays alive while frames arrive', () => {
    const { clock, heartbeat, timedOut } = setup()
    for (let i = 0; i < 40; i++) {
      clock.advance(400)
      heartbeat.received()
    }
    expect(timedOut()).toBeUndefined()
  })

  it('fails at once after the device slept, judging by the last server frame', () => {
    const { clock, heartbeat, timedOut } = setup()
    clock.jump(60_000)
    heartbeat.check()
    expect(timedOut()).toBe(60_000)
  })

  it('probes with a ping when woken shortly after activity', () => {
    const { clock, events, heartbeat } = setup()
    clock.advance(300)
    heartbeat.check()
    expect(events).toEqual(['ping@300'])
  })

  it('leaves nothing scheduled after stop', () => {
    const { clock, heartbeat } = setup()
    heartbeat.stop()
    expect(clock.pending).toBe(0)
  })
})
