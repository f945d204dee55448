import type { AuthFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { ManualClock } from './manual-clock.js'
import { TokenRefresher } from './token-refresher.js'

function setup(getToken: () => string | Promise<string> = () => 'fresh') {
  const clock = new ManualClock()
  const sent: AuthFrame[] = []
  const errors: unknown[] = []
  let open = true
  const refresher = new TokenRefresher({
    getToken,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 8000 },
    send: (frame) => open && sent.push(frame) > 0,
    onError: (error) => errors.push(error),
  })
  return { clock, sent, errors, refresher, close: () => (open = false) }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('TokenRefresher', () => {
  it('refreshes a long-lived token 30 s before it expires', async () => {
    const { clock, sent, refresher } = setup()
    refresher.expiresAt(clock.now() + 600_000)
    clock.advance(569_999)
    await settle()
    expect(sent).toEqual([])
    clock.advance(1)
    await settle()
    expect(sent).toEqual([{ t: 'auth', token: 'fresh' }])
    expect(refresher.state.kind).toBe('sent')
  })

  it('refreshes a short-lived token after half its remaining lifetime', async () => {
    const { clock, sent, refresher } = setup()
    refresher.expiresAt(clock.now() + 40_000)
    expect(refresher.state).toEqual({ kind: 'scheduled', at: clock.now() + 20_000 })
    clock.advance(20_000)
    await settle()
    expect(sent).toHaveLength(1)
  })

  it('plans no refresh sooner than a second ahead, even for an expiry already past', () => {
    const { clock, refresher } = setup()
    refresher.expiresAt(clock.now() - 5_000)
    expect(refresher.state).toEqual({ kind: 'scheduled', at: clock.now() + 1_000 })
  })

  it('reschedules on authOk and stops planning when no expiry is announced', () => {
    const { clock, refresher } = setup()
    refresher.expiresAt(clock.now() + 60_000)
    refresher.expiresAt(clock.now() + 120_000)
    expect(refresher.state).toEqual({ kind: 'scheduled', at: clock.now() + 90_000 })
    expect(clock.pending).toBe(1)
    refresher.expiresAt(undefined)
    expect(refresher.state.kind).toBe('idle')
    expect(clock.pending).toBe(0)
  })

  it('fetches at once on TOKEN_EXPIRED, once while a fetch is running', async () => {
    let calls = 0
    const { sent, refresher } = setup(() => `t${++calls}`)
    refresher.expired()
    refresher.expired()
    await settle()
    expect(sent).toEqual([{ t: 'auth', token: 't1' }])
  })

  it('retries a failing getToken with backoff and reports every failure', async () => {
    let calls = 0
    const { clock, sent, errors, refresher } = setup(() => {
      calls += 1
      if (calls <= 2) throw new Error('identity provider down')
      return 'late'
    })
    refresher.expired()
    await settle()
    expect(refresher.state.kind).toBe('retrying')
    clock.advance(500)
    await settle()
    clock.advance(1000)
    await settle()
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatchObject({ message: 'identity provider down' })
    expect(sent).toEqual([{ t: 'auth', token: 'late' }])
  })

  it('drops a token that arrives after the link ended and leaves nothing scheduled', async () => {
    let release!: (token: string) => void
    const { clock, sent, refresher } = setup(() => new Promise((resolve) => (release = resolve)))
    refresher.expired()
    await settle()
    refresher.stop()
    release('too late')
    await settle()
    expect(sent).toEqual([])
    expect(refresher.state.kind).toBe('idle')
    expect(clock.pending).toBe(0)
  })
})
