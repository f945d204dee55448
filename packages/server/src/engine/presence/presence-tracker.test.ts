import { describe, expect, it } from 'vitest'
import { PresenceTracker } from './presence-tracker.js'

describe('PresenceTracker', () => {
  it('reports a change only when the number of a user’s clients changes', () => {
    const presence = new PresenceTracker()
    expect(presence.join('room', 'alice', 'c1')).toEqual({
      stream: 'room',
      user: 'alice',
      clients: 1,
    })
    // The same client over a second connection is not a new presence.
    expect(presence.join('room', 'alice', 'c1')).toBeUndefined()
    expect(presence.join('room', 'alice', 'c2')).toEqual({
      stream: 'room',
      user: 'alice',
      clients: 2,
    })
    expect(presence.leave('room', 'alice', 'c1')).toBeUndefined()
    expect(presence.leave('room', 'alice', 'c1')).toEqual({
      stream: 'room',
      user: 'alice',
      clients: 1,
    })
    expect(presence.snapshot('room')).toEqual([{ user: 'alice', clients: 1 }])
    expect(presence.leave('room', 'alice', 'c2')).toEqual({
      stream: 'room',
      user: 'alice',
      clients: 0,
    })
    expect(presence.snapshot('room')).toEqual([])
  })

  it('ignores a leave without a join', () => {
    expect(new PresenceTracker().leave('room', 'bob', 'c9')).toBeUndefined()
  })
})
