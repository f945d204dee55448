import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunBrowser, setNetwork } from '../support/browser.js'
import {
  openConversation,
  send,
  serverTexts,
  shownMessages,
  waitForCommitted,
  waitForConnection,
} from '../support/chat-page.js'
import { type ChatServer, startChatServer } from '../support/chat-server.js'

// The chat demo (apps/chat) in real Chromium against a real `seqline serve` process serving the
// built app: what a newcomer sees after `npm start`, under the failures the SDK exists for.

let chat: ChatServer

beforeAll(async () => {
  chat = await startChatServer()
}, 120_000)

afterAll(() => chat?.dispose())

describe.skipIf(!canRunBrowser)('chat demo in Chromium', () => {
  it('keeps the same ordered history for two users when one goes offline and comes back', async () => {
    const stream = 'room:offline-test'
    const alice = await chat.user('alice')
    const bob = await chat.user('bob')
    await openConversation(alice.page, stream)
    await openConversation(bob.page, stream)
    await send(alice.page, 'a1')
    await send(bob.page, 'b1')
    await waitForCommitted(alice.page, 2)

    await setNetwork(bob.page, false)
    await waitForConnection(bob.page, 'offline')
    for (let i = 2; i <= 6; i += 1) {
      await send(alice.page, `a${i}`)
      await send(bob.page, `b${i}`)
    }
    // Bob's messages wait in his outbox, shown as pending.
    const pending = (await shownMessages(bob.page)).filter((m) => m.delivery === 'pending')
    expect(pending.map((m) => m.text)).toEqual(['b2', 'b3', 'b4', 'b5', 'b6'])

    await setNetwork(bob.page, true)
    const aliceSees = await waitForCommitted(alice.page, 12)
    const bobSees = await waitForCommitted(bob.page, 12)
    expect(bobSees).toEqual(aliceSees)
    expect(aliceSees).toEqual(await serverTexts(chat.server.url, stream, 'alice'))
    expect([...aliceSees].sort()).toEqual(
      ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6'].sort(),
    )
  })

  it('keeps pending messages across a reload mid-send and sends each once', async () => {
    const stream = 'room:reload-test'
    const alice = await chat.user('alice')
    const { page } = alice
    await openConversation(page, stream)
    await page.getByTestId('open-drawer').click()
    await page.getByTestId('offline-switch').check()
    await waitForConnection(page, 'offline')
    const texts = ['r1', 'r2', 'r3', 'r4', 'r5']
    for (const text of texts) await send(page, text)
    expect((await shownMessages(page)).map((m) => m.delivery)).toEqual(Array(5).fill('pending'))

    // Back online and reload at once: the outbox is being sent when the page goes away.
    await page.getByTestId('offline-switch').uncheck()
    await page.reload()
    // The reloaded page shows its outbox once it has read it back from storage.
    await expect
      .poll(async () => (await shownMessages(page)).map((m) => m.text), { timeout: 30_000 })
      .toEqual(texts)
    expect(await waitForCommitted(page, 5)).toEqual(texts)
    expect(await serverTexts(chat.server.url, stream, 'alice')).toEqual(texts)
  })

  it('loses and doubles nothing with the chaos switch on for 30 s of traffic', async () => {
    const stream = 'room:chaos-test'
    const alice = await chat.user('alice')
    const bob = await chat.user('bob')
    for (const { page } of [alice, bob]) {
      await openConversation(page, stream)
      await page.getByTestId('open-drawer').click()
      await page.getByTestId('chaos-switch').check()
    }
    const sent: string[] = []
    const until = Date.now() + 30_000
    for (let i = 0; Date.now() < until; i += 1) {
      for (const [name, { page }] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        const text = `${name}-${i}`
        await send(page, text)
        sent.push(text)
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    for (const { page } of [alice, bob]) await page.getByTestId('chaos-switch').uncheck()

    const aliceSees = await waitForCommitted(alice.page, sent.length, 60_000)
    const bobSees = await waitForCommitted(bob.page, sent.length, 60_000)
    expect(bobSees).toEqual(aliceSees)
    expect(new Set(aliceSees).size).toBe(sent.length)
    expect([...aliceSees].sort()).toEqual([...sent].sort())
    expect(await serverTexts(chat.server.url, stream, 'alice')).toEqual(aliceSees)
    // Each user's own messages keep the order they were typed in.
    for (const name of ['alice', 'bob']) {
      const own = (list: string[]) => list.filter((t) => t.startsWith(`${name}-`))
      expect(own(aliceSees)).toEqual(own(sent))
    }
    const kills = Number(await alice.page.locator('[data-counter="Killed by chaos"]').innerText())
    expect(kills).toBeGreaterThan(3)
  }, 120_000)

  it('shows the same messages and read state in two tabs of the same user', async () => {
    const stream = 'room:tabs-test'
    const alice = await chat.user('alice')
    const bob = await chat.user('bob')
    const tab1 = alice.page
    const tab2 = await alice.context.newPage()
    tab2.on('pageerror', (error) => alice.errors.push(error.message))
    await tab2.goto(`${chat.server.url}/`)
    await waitForConnection(tab2, 'online')
    // Both tabs join the channel, then look elsewhere while Bob writes.
    for (const tab of [tab1, tab2]) {
      await openConversation(tab, stream)
      await openConversation(tab, 'room:general')
    }
    await openConversation(bob.page, stream)
    for (const text of ['t1', 't2', 't3']) await send(bob.page, text)
    await waitForCommitted(bob.page, 3)

    for (const tab of [tab1, tab2]) {
      await expect.poll(() => tab.getByTestId(`unread-${stream}`).textContent()).toBe('3')
    }
    // Reading in one tab marks the conversation read in the other: read state is per user.
    await tab1.getByTestId(`open-${stream}`).click()
    expect(await waitForCommitted(tab1, 3)).toEqual(['t1', 't2', 't3'])
    await expect.poll(() => tab2.getByTestId(`unread-${stream}`).count()).toBe(0)
    await openConversation(tab2, stream)
    expect(await waitForCommitted(tab2, 3)).toEqual(['t1', 't2', 't3'])
    // Bob sees that Alice read his messages.
    await expect.poll(() => bob.page.getByTestId('seen-by').textContent()).toContain('alice')

    // Two tabs are two Seqline clients (G7).
    const clientId = async (tab: typeof tab1) => {
      await tab.getByTestId('open-drawer').click()
      return tab.locator('.identity dd').nth(1).innerText()
    }
    expect(await clientId(tab1)).not.toEqual(await clientId(tab2))
  })
})
