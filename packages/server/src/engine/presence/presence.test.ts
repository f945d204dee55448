import type { PresenceCount } from '@seqline/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeliveryEvent, Follower } from '../follower.js'
import { type Listing, Presence, type PresenceMember } from './presence.js'

const CAP = 10
const STREAM = 'room:general'

/** A member that applies its presence frames as the client SDK does (stream-handle.ts). */
class Member implements PresenceMember, Follower {
  readonly subscriber: { readonly userId: string; readonly clientId: string }
  readonly follower = this
  readonly id: string
  readonly closed = false
  readonly bufferedAmount = 0
  presence = true
  presenceStale = false
  presenceView: Listing | undefined = undefined
  readonly frames: DeliveryEvent[] = []
  readonly view = new Map<string, number>()
  count: PresenceCount = { users: 0, clients: 0 }
  writeCostMs = 0

  constructor(
    userId: string,
    clientId: string,
    readonly stream = STREAM,
  ) {
    this.subscriber = { userId, clientId }
    this.id = `${userId}/${clientId}`
  }

  whenDrained(): Promise<void> {
    return Promise.resolve()
  }
  batch(write: () => void): void {
    write()
  }
  message(): void {}
  event(event: DeliveryEvent): void {
    // What writing a frame to this member's socket costs (a system call, tens of µs; more here).
    if (this.writeCostMs > 0) {
      const until = performance.now() + this.writeCostMs
      while (performance.now() < until);
    }
    this.frames.push(event)
    if (event.kind === 'presence') {
      this.view.clear()
      for (const entry of event.users) this.view.set(entry.user, entry.clients)
      this.count = event.count
    } else if (event.kind === 'presenceDiff') {
      for (const change of event.changes) {
        if (change.clients > 0) this.view.set(change.user, change.clients)
        else this.view.delete(change.user)
      }
      this.count = event.count
    }
  }
}

const sorted = (view: ReadonlyMap<string, number>): [string, number][] =>
  [...view].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** A seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

describe('Presence in a room larger than a snapshot', () => {
  let presence: Presence
  afterEach(() => presence.close())

  const start = (): Presence =>
    (presence = new Presence({
      intervalMs: 60_000,
      snapshotUsers: CAP,
      highWaterMark: 1 << 20,
      modeOf: () => 'on',
    }))

  /** The users a member subscribing now is shown (the probe that asks is one more change). */
  const shownNow = (): Map<string, number> => {
    const probe = new Member('probe', 'probe')
    presence.join(probe)
    presence.leave(probe)
    probe.view.delete('probe')
    return probe.view
  }

  it('brings the members who hold the listing up to date with its changes and the count, not a snapshot', () => {
    start()
    const members = Array.from({ length: 50 }, (_, i) => new Member(`u${i}`, `c${i}`))
    for (const member of members) presence.join(member)
    presence.flush()
    for (const member of members) member.frames.length = 0

    // An interval with more joins than a snapshot lists, none of them among the listed users.
    const late = Array.from({ length: 30 }, (_, i) => new Member(`late${i}`, `late${i}`))
    for (const member of late) presence.join(member)
    presence.flush()

    for (const member of members) {
      expect(member.frames).toEqual([
        {
          kind: 'presenceDiff',
          stream: STREAM,
          changes: [],
          count: { users: 80, clients: 80 },
        },
      ])
    }
    // A listed user leaves, and more than a snapshot's worth of others join: the first unlisted
    // user takes its place.
    const listedLeaving = members[3] as Member
    presence.leave(listedLeaving)
    const more = Array.from({ length: 20 }, (_, i) => new Member(`more${i}`, `more${i}`))
    for (const member of more) presence.join(member)
    presence.flush()
    const first = members[0] as Member
    expect(first.frames.at(-1)).toEqual({
      kind: 'presenceDiff',
      stream: STREAM,
      changes: [
        { user: 'u3', clients: 0 },
        { user: `u${CAP}`, clients: 1 },
      ],
      count: { users: 99, clients: 99 },
    })
    expect([...first.view]).toEqual([...shownNow()])
  })

  it('shows every member the true count and nobody who left, whatever the churn', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      start()
      const next = random(seed)
      const members: Member[] = []
      const truth = new Map<string, number>()
      for (let flush = 0; flush < 60; flush++) {
        // Users whose number of clients changed in this interval (the previous probe among them).
        const touched = new Set(flush === 0 ? [] : ['probe'])
        // Quiet intervals (a few changes) and busy ones (more than a snapshot lists).
        const changes = next() < 0.5 ? 1 + Math.floor(next() * 4) : CAP + Math.floor(next() * 30)
        for (let c = 0; c < changes; c++) {
          if (members.length > 0 && next() < 0.45) {
            const [member] = members.splice(Math.floor(next() * members.length), 1)
            presence.leave(member as Member)
            const user = (member as Member).subscriber.userId
            touched.add(user)
            const left = (truth.get(user) ?? 0) - 1
            if (left > 0) truth.set(user, left)
            else truth.delete(user)
          } else {
            // Users with one or several clients; users coming back after leaving.
            const user = `u${Math.floor(next() * 40)}`
            const member = new Member(user, `c${flush}-${c}`)
            members.push(member)
            presence.join(member)
            touched.add(user)
            truth.set(user, (truth.get(user) ?? 0) + 1)
          }
        }
        const busy = touched.size > CAP
        for (const member of members) member.frames.length = 0
        presence.flush()
        const count = {
          users: truth.size,
          clients: [...truth.values()].reduce((a, b) => a + b, 0),
        }
        const shown = shownNow()
        for (const member of members) {
          expect(member.frames.length).toBeLessThanOrEqual(1)
          expect(member.count).toEqual(count)
          for (const [user, clients] of member.view) expect(truth.get(user)).toBe(clients)
          // After a busy interval every member knows exactly the users a new subscriber is shown.
          if (busy) expect(sorted(member.view)).toEqual(sorted(shown))
        }
      }
      presence.close()
    }
  })
})

describe('Presence of a room whose frames take long to write', () => {
  it('tells it less often, so that its presence takes at most a tenth of the event loop', async () => {
    const presence = new Presence({
      intervalMs: 5,
      snapshotUsers: CAP,
      highWaterMark: 1 << 20,
      modeOf: () => 'on',
    })
    // 20 members at 1 ms a frame: a flush takes ~20 ms, so the next waits ~200 ms, not 5 ms.
    const members = Array.from({ length: 20 }, (_, i) => new Member(`u${i}`, `c${i}`))
    for (const member of members) {
      presence.join(member)
      member.writeCostMs = 1
    }
    // A room that is quick to tell keeps the interval.
    const quick = new Member('q', 'q', 'room:quick')
    presence.join(quick)
    const started = performance.now()
    // Someone joins each room every 10 ms for 600 ms.
    for (let n = 0; performance.now() - started < 600; n++) {
      presence.join(new Member(`guest${n}`, `guest${n}`))
      presence.join(new Member(`guest${n}`, `guest${n}`, 'room:quick'))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    presence.close()
    // One snapshot, then at most one frame per ~200 ms (without the budget: one per 10–30 ms).
    const busy = (members[0] as Member).frames.length
    expect(busy).toBeGreaterThanOrEqual(2)
    expect(busy).toBeLessThanOrEqual(6)
    expect(quick.frames.length).toBeGreaterThan(3 * busy)
  })
})
