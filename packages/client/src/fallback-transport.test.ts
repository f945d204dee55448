import type { ServerFrame } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { fallbackTransport } from './fallback-transport.js'
import type { Transport, TransportHandlers } from './transport.js'

/** A primary transport whose links the test ends by hand, with or without a frame first. */
function scriptedPrimary() {
  const links: TransportHandlers[] = []
  const transport: Transport = {
    name: 'websocket',
    connect(handlers) {
      links.push(handlers)
      return { send() {}, close() {} }
    },
  }
  return { transport, links }
}

const fallback: Transport = {
  name: 'http',
  connect: () => ({ send() {}, close() {} }),
}

const healthy = (() => Promise.resolve(new Response('{}'))) as typeof fetch
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))
const welcome = { t: 'pong' } satisfies ServerFrame
const noop: TransportHandlers = { onOpen() {}, onFrame() {}, onClose() {} }

describe('fallbackTransport', () => {
  it('switches to the fallback after links that die silently while the server answers HTTP', async () => {
    const primary = scriptedPrimary()
    const transport = fallbackTransport(primary.transport, () => fallback, {
      url: 'http://x',
      fetch: healthy,
    })
    for (let i = 0; i < 2; i++) {
      transport.connect(noop)
      primary.links.at(-1)?.onClose({ code: 1006, reason: '' })
      await settle()
    }
    expect(transport.name).toBe('http')
  })

  it('counts a failed attempt once, though it both closed and was dropped by the connection', async () => {
    const primary = scriptedPrimary()
    const transport = fallbackTransport(primary.transport, () => fallback, {
      url: 'http://x',
      fetch: healthy,
    })
    const link = transport.connect(noop)
    primary.links[0]?.onClose({ code: 1006, reason: '' })
    link.close(4001, 'reconnect')
    await settle()
    expect(transport.name).toBe('websocket')
    transport.connect(noop).close(4001, 'connect timeout')
    await settle()
    expect(transport.name).toBe('http')
  })

  it('never switches once the primary has carried a frame', async () => {
    const primary = scriptedPrimary()
    const transport = fallbackTransport(primary.transport, () => fallback, {
      url: 'http://x',
      fetch: healthy,
    })
    transport.connect(noop)
    primary.links[0]?.onFrame(welcome)
    primary.links[0]?.onClose({ code: 1006, reason: '' })
    for (let i = 0; i < 5; i++) {
      transport.connect(noop)
      primary.links.at(-1)?.onClose({ code: 1006, reason: '' })
      await settle()
    }
    expect(transport.name).toBe('websocket')
  })

  it('does not switch while the server does not answer HTTP either', async () => {
    const primary = scriptedPrimary()
    const down = (() => Promise.reject(new Error('ECONNREFUSED'))) as typeof fetch
    const transport = fallbackTransport(primary.transport, () => fallback, {
      url: 'http://x',
      fetch: down,
    })
    for (let i = 0; i < 4; i++) {
      transport.connect(noop)
      primary.links.at(-1)?.onClose({ code: 1006, reason: '' })
      await settle()
    }
    expect(transport.name).toBe('websocket')
  })
})
