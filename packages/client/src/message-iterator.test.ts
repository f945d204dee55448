import type { Message } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { messageIterator } from './message-iterator.js'

const msg = (offset: number): Message<number> => ({
  stream: 's',
  offset,
  epoch: 'e',
  producer: null,
  seq: null,
  from: null,
  ts: 0,
  data: offset,
})

describe('messageIterator', () => {
  it('releases a message only when the next one is requested', async () => {
    const { iterator, onMessage } = messageIterator<number>(() => {})
    let processed = false
    void onMessage(msg(1)).then(() => (processed = true))
    expect((await iterator.next()).value?.offset).toBe(1)
    await Promise.resolve()
    expect(processed).toBe(false)
    const second = iterator.next()
    await Promise.resolve()
    expect(processed).toBe(true)
    void onMessage(msg(2))
    expect((await second).value?.offset).toBe(2)
  })

  it('unsubscribes and finishes when the loop is left', async () => {
    let unsubscribed = false
    const { iterator, onMessage } = messageIterator<number>(() => (unsubscribed = true))
    void onMessage(msg(1))
    for await (const m of iterator) {
      expect(m.offset).toBe(1)
      break
    }
    expect(unsubscribed).toBe(true)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
  })
})
