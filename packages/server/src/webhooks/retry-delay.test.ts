import { describe, expect, it } from 'vitest'
import { retryDelay } from './retry-delay.js'

const policy = { initialDelayMs: 1_000, maxDelayMs: 60_000 }

describe('retryDelay', () => {
  it('draws below a ceiling that doubles with every attempt', () => {
    const nearlyOne = (): number => 0.999_999
    expect(retryDelay(0, policy, nearlyOne)).toBe(999)
    expect(retryDelay(1, policy, nearlyOne)).toBe(1_999)
    expect(retryDelay(4, policy, nearlyOne)).toBe(15_999)
  })

  it('caps the ceiling at the maximum delay, however many attempts', () => {
    expect(retryDelay(6, policy, () => 0.999_999)).toBe(59_999)
    expect(retryDelay(10_000, policy, () => 0.5)).toBe(30_000)
  })

  it('spreads retries over the whole range (full jitter)', () => {
    expect(retryDelay(3, policy, () => 0)).toBe(0)
    expect(retryDelay(3, policy, () => 0.5)).toBe(4_000)
  })
})
