import { describe, expect, it } from 'vitest'
import { ManualClock } from './manual-clock.js'
import { RetryTimer } from './retry-timer.js'

describe('RetryTimer', () => {
  it('fires after the delay of the current attempt and counts attempts', () => {
    const clock = new ManualClock()
    let fired = 0
    const timer = new RetryTimer(
      clock,
      () => fired++,
      (attempt) => (attempt + 1) * 100,
    )
    expect(timer.schedule()).toBe(100)
    clock.advance(99)
    expect(fired).toBe(0)
    clock.advance(1)
    expect(fired).toBe(1)
    expect(timer.schedule()).toBe(200)
    expect(timer.attempt).toBe(2)
  })

  it('resets the attempt count and cancels the pending retry', () => {
    const clock = new ManualClock()
    let fired = 0
    const timer = new RetryTimer(
      clock,
      () => fired++,
      () => 100,
    )
    timer.schedule()
    timer.reset()
    clock.advance(1000)
    expect(fired).toBe(0)
    expect(timer.attempt).toBe(0)
    expect(clock.pending).toBe(0)
  })

  it('replaces a pending retry when scheduled again', () => {
    const clock = new ManualClock()
    let fired = 0
    const timer = new RetryTimer(
      clock,
      () => fired++,
      () => 100,
    )
    timer.schedule()
    timer.schedule(500)
    clock.advance(499)
    expect(fired).toBe(0)
    clock.advance(1)
    expect(fired).toBe(1)
  })
})
