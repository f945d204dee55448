import { afterEach, describe, expect, it } from 'vitest'
import type { Bus, BusMessage } from '../../packages/server/src/bus/bus.js'

/** What a conformance run needs: two fresh, not yet initialised buses on the same channel. */
export interface BusPair {
  readonly a: Bus
  readonly b: Bus
  /** Cuts the connections of bus `b` from the server side (absent for in-process buses). */
  readonly cut?: (() => Promise<void>) | undefined
  cleanup(): Promise<void>
}

/** The one conformance suite every `Bus` passes (STYLE.md: one suite, many implementations). */
export function runBusConformance(name: string, factory: () => Promise<BusPair>): void {
  describe(`Bus conformance: ${name}`, () => {
    let pair: BusPair | undefined

    async function open(): Promise<BusPair> {
      pair = await factory()
      await pair.a.init()
      await pair.b.init()
      return pair
    }

    afterEach(async () => {
      await pair?.a.close()
      await pair?.b.close()
      await pair?.cleanup()
      pair = undefined
    })

    function next(bus: Bus, match: (m: BusMessage) => boolean, timeoutMs = 3_000) {
      return new Promise<BusMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          dispose()
          reject(new Error(`no matching bus message within ${timeoutMs} ms`))
        }, timeoutMs)
        const dispose = bus.subscribe((m) => {
          if (!match(m)) return
          clearTimeout(timer)
          dispose()
          resolve(m)
        })
      })
    }

    it('delivers a message to the other node and to the sender, intact', async () => {
      const { a, b } = await open()
      const message: BusMessage = {
        kind: 'head',
        node: 'node-a',
        stream: 'room:a',
        epoch: 'e1',
        head: 42,
        closed: false,
      }
      const atB = next(b, (m) => m.kind === 'head')
      const atA = next(a, (m) => m.kind === 'head')
      a.publish(message)
      expect(await atB).toEqual(message)
      expect(await atA).toEqual(message)
    })

    it('carries every kind of message', async () => {
      const { a, b } = await open()
      const messages: BusMessage[] = [
        { kind: 'deleted', node: 'n', stream: 'room:a' },
        { kind: 'signal', node: 'n', stream: 'room:a', from: 'alice', data: { x: [1, 'ü'] } },
        {
          kind: 'presence',
          node: 'n',
          streams: { 'room:a': [{ user: 'alice', clients: 2 }] },
          full: true,
          ttlMs: 100,
        },
        { kind: 'hello', node: 'n' },
      ]
      const received: BusMessage[] = []
      const all = new Promise<void>((resolve) => {
        b.subscribe((m) => {
          received.push(m)
          if (received.length === messages.length) resolve()
        })
      })
      for (const m of messages) a.publish(m)
      await all
      expect(received).toEqual(messages)
    })

    it('stops delivering to a disposed listener', async () => {
      const { a, b } = await open()
      const seen: BusMessage[] = []
      const dispose = b.subscribe((m) => seen.push(m))
      dispose()
      const later = next(b, (m) => m.kind === 'hello')
      a.publish({ kind: 'hello', node: 'x' })
      await later
      expect(seen).toEqual([])
    })

    it('drops a publish after close without throwing', async () => {
      const { a } = await open()
      await a.close()
      expect(() => a.publish({ kind: 'hello', node: 'x' })).not.toThrow()
    })

    it('reconnects after losing its connection and says so', async () => {
      const { a, b, cut } = await open()
      if (cut === undefined) return // in-process: there is no connection to lose
      const reconnected = new Promise<void>((resolve) => b.onReconnect(resolve))
      await cut()
      await reconnected
      // Delivery works again after the reconnect.
      for (let attempt = 0; ; attempt++) {
        const got = next(b, (m) => m.kind === 'hello' && m.node === `r${attempt}`, 500)
        a.publish({ kind: 'hello', node: `r${attempt}` })
        try {
          await got
          break
        } catch (err) {
          if (attempt > 10) throw err
        }
      }
    })
  })
}
