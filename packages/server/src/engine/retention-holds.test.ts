import { describe, expect, it } from 'vitest'
import { RetentionHolds } from './retention-holds.js'

describe('RetentionHolds', () => {
  it('keeps the lowest offset any holder of a stream still needs, until it is released', () => {
    const holds = new RetentionHolds()
    const a = {}
    const b = {}
    let bNeeds = 7
    holds.hold(a, 'room:a', () => 12)
    holds.hold(b, 'room:a', () => bNeeds)
    holds.hold({}, 'room:b', () => 3)
    expect(holds.keepFrom('room:a')).toBe(7)
    bNeeds = 20
    expect(holds.keepFrom('room:a')).toBe(12)
    holds.release(a, 'room:a')
    expect(holds.keepFrom('room:a')).toBe(20)
    holds.release(b, 'room:a')
    expect(holds.keepFrom('room:a')).toBeUndefined()
    expect(holds.keepFrom('room:b')).toBe(3)
  })
})
