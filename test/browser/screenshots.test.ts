import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type BrowserUser, buildChat, launchBrowser, setNetwork } from '../support/browser.js'
import {
  openConversation,
  send,
  signIn,
  waitForCommitted,
  waitForConnection,
} from '../support/chat-page.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'

// Regenerates docs/screenshots/*.png: `UPDATE_SCREENSHOTS=1 npx vitest run test/browser/screenshots`.
// Not part of the normal run: it rewrites files in docs/.

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
let server: ServerProcess
let chat: { dir: string; dispose: () => Promise<void> }
const browsers: BrowserUser[] = []

describe.runIf(process.env.UPDATE_SCREENSHOTS === '1')('chat screenshots', () => {
  beforeAll(async () => {
    await mkdir(OUT, { recursive: true })
    chat = await buildChat()
    server = await startServerProcess({ args: ['--static-dir', chat.dir] })
  }, 120_000)

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()))
    await server?.dispose()
    await chat?.dispose()
  })

  async function person(name: string, viewport = { width: 1280, height: 800 }) {
    const b = await launchBrowser(`${server.url}/`, { viewport })
    browsers.push(b)
    await signIn(b.page, name)
    return b.page
  }

  it('takes the main screens', async () => {
    const alice = await person('alice')
    const bob = await person('bob')
    const carol = await person('carol')
    await openConversation(carol, 'room:release-train')
    await send(carol, 'Release 4.2 is branched. Freeze starts tomorrow 9:00.')
    await openConversation(carol, 'room:general')
    await openConversation(bob, 'room:general')
    await openConversation(alice, 'room:general')
    const script: [typeof alice, string][] = [
      [carol, 'Morning all! The Q3 release checklist is in the wiki.'],
      [bob, 'Thanks Carol. Are we still on for the 2 pm review?'],
      [alice, 'Yes. I will share the dashboard before we start.'],
      [carol, 'Load test numbers look good: p99 under 40 ms.'],
      [alice, 'On a train with flaky wifi today, so I may drop in and out.'],
      [bob, 'No problem, nothing gets lost here anyway.'],
    ]
    for (const [page, text] of script) {
      await send(page, text)
      await new Promise((r) => setTimeout(r, 250))
    }
    await waitForCommitted(alice, script.length)
    await openConversation(bob, 'dm:alice:bob')
    await send(bob, 'Can you review my PR after lunch?')
    await openConversation(bob, 'room:general')
    await new Promise((r) => setTimeout(r, 1500))
    await bob.getByTestId('composer').fill('See you at 2')
    await new Promise((r) => setTimeout(r, 600))
    await alice.screenshot({ path: `${OUT}chat.png` })

    // The reliability lab after some chaos.
    await alice.getByTestId('open-drawer').click()
    await alice.getByTestId('chaos-switch').check()
    for (let i = 1; i <= 12; i += 1) {
      await send(i % 2 === 0 ? alice : bob, i % 2 === 0 ? `ack ${i}` : `ping ${i}`)
      await new Promise((r) => setTimeout(r, 700))
    }
    await alice.getByTestId('chaos-switch').uncheck()
    await waitForCommitted(alice, script.length + 12, 30_000)
    await new Promise((r) => setTimeout(r, 500))
    await alice.screenshot({ path: `${OUT}reliability-lab.png` })
    await alice.keyboard.press('Escape')

    // Offline: messages wait in the outbox.
    await setNetwork(alice, false)
    await waitForConnection(alice, 'offline')
    await send(alice, 'Tunnel. Writing this offline, it goes out when I am back.')
    await send(alice, 'And this one too, in order.')
    await new Promise((r) => setTimeout(r, 300))
    await alice.screenshot({ path: `${OUT}offline.png` })
    await setNetwork(alice, true)

    // Narrow screens.
    const mobile = await person('dan', { width: 390, height: 780 })
    await openConversation(mobile, 'room:general')
    await mobile.screenshot({ path: `${OUT}mobile.png` })
    await mobile.getByRole('button', { name: 'Show conversations' }).click()
    await new Promise((r) => setTimeout(r, 400))
    await mobile.screenshot({ path: `${OUT}mobile-sidebar.png` })
  }, 180_000)
})
