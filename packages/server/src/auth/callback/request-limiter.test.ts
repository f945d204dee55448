import { describe, expect, it } from 'vitest'
import { LimiterFullError, RequestLimiter } from './request-limiter.js'

/** A task that finishes when `finish()` is called; `whenStarted` resolves when it starts. */
function gate(): {
  task: () => Promise<string>
  finish: () => void
  started: boolean
  whenStarted: Promise<void>
} {
  let finish: () => void = () => undefined
  let markStarted: () => void = () => undefined
  const g = {
    started: false,
    whenStarted: new Promise<void>((resolve) => (markStarted = resolve)),
    finish: () => finish(),
    task: () => {
      g.started = true
      markStarted()
      return new Promise<string>((resolve) => (finish = () => resolve('done')))
    },
  }
  return g
}

const never = new AbortController().signal

describe('RequestLimiter', () => {
  it('runs up to maxActive tasks and starts a queued one when a slot frees', async () => {
    const limiter = new RequestLimiter({ maxActive: 1, maxActivePerKey: 1, maxQueued: 5 })
    const a = gate()
    const b = gate()
    const first = limiter.run('u1', never, a.task)
    const second = limiter.run('u2', never, b.task)
    await a.whenStarted
    expect([b.started, limiter.queued]).toEqual([false, 1])
    a.finish()
    await first
    await b.whenStarted
    b.finish()
    expect(await second).toBe('done')
  })

  it('lets other keys pass a key that is at its own bound', async () => {
    const limiter = new RequestLimiter({ maxActive: 3, maxActivePerKey: 1, maxQueued: 5 })
    const slow1 = gate()
    const slow2 = gate()
    const fast = gate()
    void limiter.run('slow', never, slow1.task)
    void limiter.run('slow', never, slow2.task)
    const other = limiter.run('fast', never, fast.task)
    await Promise.all([slow1.whenStarted, fast.whenStarted])
    expect([slow2.started, limiter.queued]).toEqual([false, 1])
    fast.finish()
    expect(await other).toBe('done')
    slow1.finish()
    slow2.finish()
  })

  it('refuses a task when the queue is full', async () => {
    const limiter = new RequestLimiter({ maxActive: 1, maxActivePerKey: 1, maxQueued: 1 })
    const a = gate()
    void limiter.run('u', never, a.task)
    void limiter.run('u', never, gate().task)
    await expect(limiter.run('u', never, gate().task)).rejects.toBeInstanceOf(LimiterFullError)
    a.finish()
  })

  it('drops a queued task whose signal aborts, with the signal reason', async () => {
    const limiter = new RequestLimiter({ maxActive: 1, maxActivePerKey: 1, maxQueued: 5 })
    const a = gate()
    void limiter.run('u', never, a.task)
    const controller = new AbortController()
    const queued = gate()
    const waiting = limiter.run('u', controller.signal, queued.task)
    controller.abort(new Error('deadline'))
    await expect(waiting).rejects.toThrow('deadline')
    expect(limiter.queued).toBe(0)
    a.finish()
    // Once the slot is free, a next task starts at once: the aborted one never does.
    const next = gate()
    void limiter.run('u', never, next.task)
    await next.whenStarted
    expect(queued.started).toBe(false)
    next.finish()
  })

  it('releases the slot of a task that throws at once', async () => {
    const limiter = new RequestLimiter({ maxActive: 1, maxActivePerKey: 1, maxQueued: 5 })
    await expect(
      limiter.run('u', never, () => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    expect(limiter.active).toBe(0)
  })
})
