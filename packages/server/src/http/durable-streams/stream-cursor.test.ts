import { describe, expect, it } from 'vitest'
import { cursorDefaults, nextCursor } from './stream-cursor.js'

const NOW = cursorDefaults.epochMs + 1_000 * 20 * 1_000 + 5 // interval 1000

describe('nextCursor', () => {
  it('answers the current interval number without a client cursor or with an older one', () => {
    expect(nextCursor(undefined, NOW)).toBe('1000')
    expect(nextCursor('999', NOW)).toBe('1000')
    expect(nextCursor('garbage', NOW)).toBe('1000')
  })

  it('answers strictly more than a current or future client cursor, within the jitter bound', () => {
    for (const sent of [1000, 1500]) {
      const next = Number(nextCursor(String(sent), NOW))
      expect(next).toBeGreaterThan(sent)
      expect(next).toBeLessThanOrEqual(sent + 3600 / 20)
    }
  })
})
