import { describe, expect, it } from 'vitest'
import { MemoryWebhookLog } from './memory-webhook-log.js'
import { createWebhookEvent } from './webhook-event.js'

const event = (n: number) =>
  createWebhookEvent('stream.deleted', { stream: `room:${n}`, reason: 'deleted' })

describe('MemoryWebhookLog', () => {
  it('reads entries after an offset, in order, up to a limit', async () => {
    const log = new MemoryWebhookLog()
    for (let i = 1; i <= 5; i++) log.append(event(i))
    const entries = await log.read(1, 3)
    expect(entries.map((e) => e.offset)).toEqual([2, 3, 4])
    expect(entries[0]?.event.data).toEqual({ stream: 'room:2', reason: 'deleted' })
  })

  it('wakes a waiter when an entry past its offset is appended', async () => {
    const log = new MemoryWebhookLog()
    const waiting = log.waitForMore(0, new AbortController().signal)
    log.append(event(1))
    await expect(waiting).resolves.toBeUndefined()
  })

  it('ends a wait when its signal aborts', async () => {
    const log = new MemoryWebhookLog()
    const controller = new AbortController()
    const waiting = log.waitForMore(0, controller.signal)
    controller.abort()
    await expect(waiting).resolves.toBeUndefined()
  })

  it('keeps the saved cursor and drops the entries it passed', async () => {
    const log = new MemoryWebhookLog()
    for (let i = 1; i <= 3; i++) log.append(event(i))
    await log.saveCursor(2)
    expect(await log.loadCursor()).toBe(2)
    expect((await log.read(0, 10)).map((e) => e.offset)).toEqual([3])
  })
})

describe('createWebhookEvent', () => {
  it('gives every event its own id, a type, an ISO time and its data', () => {
    const a = createWebhookEvent('client.registered', { user: 'alice', clientId: 'c_1' }, 0)
    const b = createWebhookEvent('client.registered', { user: 'alice', clientId: 'c_1' }, 0)
    expect(a.id).toMatch(/^evt_[A-Za-z0-9_-]{22}$/)
    expect(a.id).not.toBe(b.id)
    expect(a).toMatchObject({
      type: 'client.registered',
      createdAt: '1970-01-01T00:00:00.000Z',
      data: { user: 'alice', clientId: 'c_1' },
    })
  })
})
