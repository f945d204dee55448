import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Principal } from '../auth/authenticator.js'
import type { Follower } from '../engine/follower.js'
import { EngineSession, type SessionHost } from '../engine/session.js'
import { ConnectionLifecycle, type LifecycleTimeouts } from './connection-lifecycle.js'

const SETTINGS = { helloTimeoutMs: 5_000, authGraceMs: 10_000 }

/** A session whose engine is never asked anything: the lifecycle only reads its principal. */
function sessionOf(principal: Principal): EngineSession {
  const unused = (): never => {
    throw new Error('not used by the lifecycle')
  }
  const host: SessionHost = {
    subscribe: unused,
    unsubscribe: unused,
    admitPublish: unused,
    append: unused,
    ack: unused,
    signal: unused,
    closed: unused,
    reauthenticated: unused,
    maxStreamsPerSession: unused,
  }
  const follower: Follower = {
    id: 'k_1',
    closed: false,
    bufferedAmount: 0,
    whenDrained: unused,
    batch: unused,
    message: unused,
    event: unused,
  }
  return new EngineSession(host, 'k_1', principal, 'c_1', follower, unused)
}

describe('ConnectionLifecycle', () => {
  let reported: string[]
  let timeouts: LifecycleTimeouts

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
    reported = []
    timeouts = {
      helloTimedOut: () => reported.push('helloTimedOut'),
      tokenExpired: () => reported.push('tokenExpired'),
      graceEnded: () => reported.push('graceEnded'),
    }
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
  })

  const create = (): ConnectionLifecycle =>
    new ConnectionLifecycle(SETTINGS, () => Date.now(), timeouts)

  it('reports a hello timeout while it still awaits the hello', () => {
    const lifecycle = create()
    vi.advanceTimersByTime(SETTINGS.helloTimeoutMs - 1)
    expect(reported).toEqual([])
    vi.advanceTimersByTime(1)
    expect(reported).toEqual(['helloTimedOut'])
    expect(lifecycle.state.kind).toBe('awaiting-hello')
  })

  it('stops the hello timeout once the hello arrives', () => {
    const lifecycle = create()
    lifecycle.greet()
    vi.advanceTimersByTime(SETTINGS.helloTimeoutMs * 2)
    expect(reported).toEqual([])
    expect(lifecycle.state.kind).toBe('greeting')
    expect(lifecycle.session).toBeUndefined()
  })

  it('stays open without a timer for a token without expiry', () => {
    const lifecycle = create()
    lifecycle.greet()
    const principal: Principal = { userId: 'alice', claims: {} }
    const session = sessionOf(principal)
    lifecycle.open(session, principal)
    vi.advanceTimersByTime(365 * 24 * 3600 * 1000)
    expect(reported).toEqual([])
    expect(lifecycle.state.kind).toBe('open')
    expect(lifecycle.session).toBe(session)
  })

  it('expires at the token expiry, then reports the end of the grace period', () => {
    const lifecycle = create()
    lifecycle.greet()
    const principal: Principal = { userId: 'alice', claims: {}, expiresAt: Date.now() + 60_000 }
    lifecycle.open(sessionOf(principal), principal)
    vi.advanceTimersByTime(59_999)
    expect(lifecycle.state.kind).toBe('open')
    vi.advanceTimersByTime(1)
    expect(reported).toEqual(['tokenExpired'])
    expect(lifecycle.state.kind).toBe('expired')
    vi.advanceTimersByTime(SETTINGS.authGraceMs)
    expect(reported).toEqual(['tokenExpired', 'graceEnded'])
  })

  it('opens again on a fresh token within the grace period and resumes what waited', async () => {
    const lifecycle = create()
    lifecycle.greet()
    const first: Principal = { userId: 'alice', claims: {}, expiresAt: Date.now() + 1_000 }
    const session = sessionOf(first)
    lifecycle.open(session, first)
    vi.advanceTimersByTime(1_000)
    const state = lifecycle.state
    if (state.kind !== 'expired') throw new Error(`expected expired, got ${state.kind}`)
    let resumed = false
    void state.resumed.then(() => (resumed = true))

    const fresh: Principal = { userId: 'alice', claims: {}, expiresAt: Date.now() + 60_000 }
    lifecycle.open(session, fresh)
    await vi.advanceTimersByTimeAsync(0)
    expect(resumed).toBe(true)
    expect(lifecycle.state.kind).toBe('open')
    vi.advanceTimersByTime(SETTINGS.authGraceMs)
    expect(reported).toEqual(['tokenExpired'])
    vi.advanceTimersByTime(60_000 - SETTINGS.authGraceMs)
    expect(reported).toEqual(['tokenExpired', 'tokenExpired'])
  })

  it('waits in steps for an expiry beyond the longest timer delay', () => {
    // Node fires a timer at once when its delay is above 2^31 − 1 ms.
    const longest = 2_147_483_647
    const scheduled = vi.spyOn(globalThis, 'setTimeout')
    const lifecycle = create()
    lifecycle.greet()
    const principal: Principal = {
      userId: 'alice',
      claims: {},
      expiresAt: Date.now() + longest + 5_000,
    }
    lifecycle.open(sessionOf(principal), principal)
    vi.advanceTimersByTime(longest)
    expect(lifecycle.state.kind).toBe('open')
    vi.advanceTimersByTime(4_999)
    expect(reported).toEqual([])
    vi.advanceTimersByTime(1)
    expect(reported).toEqual(['tokenExpired'])
    const delays = scheduled.mock.calls.map(([, delay]) => delay ?? 0)
    expect(Math.max(...delays)).toBeLessThanOrEqual(longest)
  })

  it('stops every timer on close and hands back the state it left', async () => {
    const lifecycle = create()
    lifecycle.greet()
    const principal: Principal = { userId: 'alice', claims: {}, expiresAt: Date.now() + 1_000 }
    const session = sessionOf(principal)
    lifecycle.open(session, principal)
    vi.advanceTimersByTime(1_000)
    const left = lifecycle.close()
    if (left.kind !== 'expired') throw new Error(`expected expired, got ${left.kind}`)
    let resumed = false
    void left.resumed.then(() => (resumed = true))
    await vi.advanceTimersByTimeAsync(0)
    expect(resumed).toBe(true)
    vi.advanceTimersByTime(SETTINGS.authGraceMs * 2)
    expect(reported).toEqual(['tokenExpired'])
    expect(lifecycle.state.kind).toBe('closed')
    expect(lifecycle.session).toBeUndefined()
  })
})
