import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { backoffDelay } from './backoff.js'

const options = { baseMs: 500, maxMs: 30_000 }

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt', () => {
    const max = () => 0.999999
    expect(backoffDelay(0, options, max)).toBe(499)
    expect(backoffDelay(1, options, max)).toBe(999)
    expect(backoffDelay(3, options, max)).toBe(3999)
  })

  it('never exceeds the cap', () => {
    expect(backoffDelay(50, options, () => 0.999999)).toBeLessThan(30_000)
    expect(backoffDelay(5000, options, () => 0.999999)).toBeLessThan(30_000)
  })

  it('spreads delays over the whole range (full jitter)', () => {
    expect(backoffDelay(4, options, () => 0)).toBe(0)
    expect(backoffDelay(4, options, () => 0.5)).toBe(4000)
  })

  it('stays within [0, min(cap, base·2^attempt)) for any attempt and random value', () => {
    fc.assert(
      fc.property(
        fc.nat(100),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (a, r) => {
          const d = backoffDelay(a, options, () => r)
          return (
            d >= 0 && d < Math.min(options.maxMs, options.baseMs * 2 ** a) && Number.isInteger(d)
          )
        },
      ),
    )
  })
})
