import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunBrowser } from '../support/browser.js'
import {
  openConversation,
  send,
  serverTexts,
  waitForCommitted,
  waitForConnection,
} from '../support/chat-page.js'
import { type ChatServer, startChatServer } from '../support/chat-server.js'

// The chat demo's "proxy" switch in real Chromium: with WebSocket blocked the SDK falls back to its
// HTTP session (SSE); behind a proxy that also buffers responses it then switches to long-poll. Two
// users chat across both, and the lab shows the transport in use.

let chat: ChatServer

beforeAll(async () => {
  chat = await startChatServer()
}, 120_000)

afterAll(() => chat?.dispose())

const shownTransport = (page: Page) => page.getByTestId('transport').innerText()

describe.skipIf(!canRunBrowser)('chat demo behind a proxy in Chromium', () => {
  it('loses and doubles nothing over SSE (WebSocket blocked) and long-poll (buffering)', async () => {
    const stream = 'room:proxy-test'
    const alice = await chat.user('alice')
    const bob = await chat.user('bob')
    for (const { page } of [alice, bob]) {
      await openConversation(page, stream)
      await page.getByTestId('open-drawer').click()
      expect(await shownTransport(page)).toBe('websocket')
    }

    await alice.page.getByTestId('proxy-switch').selectOption('no-websocket')
    await bob.page.getByTestId('proxy-switch').selectOption('buffering')
    // The SDK finds its own way: WebSocket fails twice → HTTP session; a silent SSE → long-poll.
    await expect.poll(() => shownTransport(alice.page), { timeout: 30_000 }).toBe('sse')
    await expect.poll(() => shownTransport(bob.page), { timeout: 30_000 }).toBe('long-poll')
    await waitForConnection(alice.page, 'online')
    await waitForConnection(bob.page, 'online')
    await expect(alice.page.getByTestId('connection').getAttribute('data-transport')).resolves.toBe(
      'sse',
    )

    const sent: string[] = []
    for (let i = 0; i < 8; i += 1) {
      for (const [name, { page }] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        const text = `${name}-${i}`
        await send(page, text)
        sent.push(text)
      }
    }
    const aliceSees = await waitForCommitted(alice.page, sent.length, 40_000)
    const bobSees = await waitForCommitted(bob.page, sent.length, 40_000)
    expect(bobSees).toEqual(aliceSees)
    expect(new Set(aliceSees).size).toBe(sent.length)
    expect([...aliceSees].sort()).toEqual([...sent].sort())
    expect(await serverTexts(chat.server.url, stream, 'alice')).toEqual(aliceSees)
    for (const name of ['alice', 'bob']) {
      const own = (list: string[]) => list.filter((t) => t.startsWith(`${name}-`))
      expect(own(aliceSees)).toEqual(own(sent))
    }
    // Still on the HTTP transports at the end: nothing went back to the WebSocket.
    expect(await shownTransport(alice.page)).toBe('sse')
    expect(await shownTransport(bob.page)).toBe('long-poll')
  }, 120_000)
})
