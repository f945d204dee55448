import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SUPPORT_KEY,
  closeProof,
  pollUntil,
  scrapeMetrics,
  sendClosing,
  streamState,
} from '../lifecycle/lifecycle-support.js'
import { type BrowserUser, type LaunchOptions, canRunBrowser } from '../support/browser.js'
import {
  openConversation,
  send,
  serverTexts,
  shownMessages,
  waitForCommitted,
  waitForConnection,
} from '../support/chat-page.js'
import {
  type WelcomeLog,
  pageTransitions,
  recordPageTransitions,
  waitForBackForwardRestore,
  watchClosingNotices,
  watchWelcomes,
} from '../support/page-lifecycle.js'
import { type ChatServer, startChatServer } from '../support/chat-server.js'
import type { ServerProcess } from '../support/server-process.js'
import { greet } from '../support/wire-session.js'

// A tab's life as the server sees it (docs/client.md, "Forgetting a client"), with the chat demo
// in real Chromium against a real `seqline serve` process: a tab closed for good is forgotten
// after the grace; a reload, which sends the same closing notice, keeps its client and loses
// nothing; a page kept in the back/forward cache sends no notice at all.

const GRACE_MS = 2_000

let chat: ChatServer
let server: ServerProcess

beforeAll(async () => {
  chat = await startChatServer({
    args: ['--forget-grace-ms', String(GRACE_MS)],
    // The backend API key that reads the delivery state (docs/operations.md).
    env: { SEQLINE_API_KEYS: SUPPORT_KEY },
  })
  server = chat.server
}, 120_000)

afterAll(() => chat?.dispose())

/** A signed-in chat tab of a fresh browser profile, and the client ids it is welcomed with. */
async function tab(
  name: string,
  options: LaunchOptions = {},
): Promise<BrowserUser & { welcomes: WelcomeLog }> {
  let welcomes: WelcomeLog | undefined
  const browser = await chat.user(name, {
    ...options,
    beforeSignIn: (page) => (welcomes = watchWelcomes(page)),
  })
  return { ...browser, welcomes: welcomes as WelcomeLog }
}

/** A client's delivery state from the backend API: 200 while it exists, 404 once forgotten. */
async function clientState(
  clientId: string,
): Promise<{ status: number; body: { closing?: boolean; error?: { code: string } } }> {
  const res = await fetch(`${server.url}/v1/api/delivery/clients/${clientId}`, {
    headers: { authorization: `Bearer ${SUPPORT_KEY}` },
  })
  return { status: res.status, body: (await res.json()) as { closing?: boolean } }
}

/** The client ids following `stream` (they acked in its current epoch). */
async function followersOf(stream: string): Promise<string[]> {
  return (await streamState(server.url, stream)).followers.map((f) => f.clientId)
}

/** Close proofs {@link outlastGrace} sent, all accepted. */
let markerProofs = 0

/** Close proofs the server received from the pages, by result (`seqline_close_proofs_total`). */
async function closeProofs(): Promise<{ accepted: number; refused: number }> {
  const scrape = await scrapeMetrics(server.url)
  const count = (result: string) => scrape('seqline_close_proofs_total', { result }) ?? 0
  return {
    accepted: count('accepted') - markerProofs,
    refused: count('stale') + count('invalid'),
  }
}

/**
 * Lets a whole grace pass, proven by the server rather than a clock: a client connects, leaves and
 * sends its close proof now; once it is forgotten, the grace of any client marked closing before
 * has run out too (one job forgets every client closing and unseen since the same cutoff).
 */
async function outlastGrace(): Promise<void> {
  const { client, welcome } = await greet(server.wsUrl, { token: 'grace-marker' })
  const { clientId, secret } = welcome as { clientId: string; secret: string }
  await client.close()
  markerProofs += 1
  expect((await sendClosing(server.url, clientId, closeProof(clientId, secret))).status).toBe(204)
  await pollUntil(
    () => clientState(clientId),
    (state) => state.status === 404,
    'the marker client forgotten',
    30_000,
  )
}

describe.skipIf(!canRunBrowser)('a tab’s life in Chromium', () => {
  it('forgets the client of a closed tab after the grace, with its place among the followers', async () => {
    const stream = 'room:lifecycle-close'
    const { page, welcomes } = await tab('carol')
    await openConversation(page, stream)
    await send(page, 'last words')
    await waitForCommitted(page, 1)
    const clientId = await welcomes.nth(1)
    await pollUntil(
      () => followersOf(stream),
      (ids) => ids.includes(clientId),
      'the tab following the stream',
    )
    expect(await clientState(clientId)).toMatchObject({ status: 200, body: { closing: false } })
    const before = await closeProofs()

    // A real close, so that pagehide fires (not persisted: the page is discarded).
    const closed = page.waitForEvent('close')
    const closedAt = Date.now()
    await page.close({ runBeforeUnload: true })
    await closed

    await pollUntil(
      closeProofs,
      (now) => now.accepted === before.accepted + 1,
      'the closing notice accepted',
    )
    const gone = await pollUntil(
      () => clientState(clientId),
      (state) => state.status !== 200,
      'the client forgotten',
      30_000,
    )
    expect(gone).toEqual({
      status: 404,
      body: { error: expect.objectContaining({ code: 'CLIENT_UNKNOWN' }) },
    })
    // Not before the grace: the mark is set about a second after the notice, the grace follows.
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS)
    expect(await followersOf(stream)).not.toContain(clientId)
    expect((await closeProofs()).refused).toBe(before.refused)
  }, 120_000)

  it('keeps the client of a tab reloaded mid-send, and commits each pending message once', async () => {
    const stream = 'room:lifecycle-reload'
    const { page, welcomes } = await tab('dan')
    await openConversation(page, stream)
    const clientId = await welcomes.nth(1)
    await page.getByTestId('open-drawer').click()
    await page.getByTestId('offline-switch').check()
    await waitForConnection(page, 'offline')
    const texts = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']
    for (const text of texts) await send(page, text)
    expect((await shownMessages(page)).map((m) => m.delivery)).toEqual(Array(6).fill('pending'))
    const before = await closeProofs()

    // Back online and reload at once: the outbox is being sent when the page goes away.
    await page.getByTestId('offline-switch').uncheck()
    await page.reload()
    expect(await welcomes.nth(2)).toBe(clientId)
    expect(await waitForCommitted(page, texts.length)).toEqual(texts)
    expect(await serverTexts(server.url, stream, 'dan')).toEqual(texts)

    // The reload sent the same notice as a close (pagehide, not persisted), and came back.
    await pollUntil(
      closeProofs,
      (now) => now.accepted === before.accepted + 1,
      'the reload’s closing notice accepted',
    )
    await outlastGrace()
    expect(await clientState(clientId)).toMatchObject({ status: 200, body: { closing: false } })
    expect(
      await pollUntil(
        () => streamState(server.url, stream),
        (st) => st.followers.some((f) => f.clientId === clientId && f.offset === texts.length),
        'the reloaded tab acking all it sent',
      ),
    ).toMatchObject({ head: texts.length })
    expect(welcomes.clientIds.every((id) => id === clientId)).toBe(true)
    // Still each once, now that the outbox has long been idle: nothing was sent again late.
    expect(await serverTexts(server.url, stream, 'dan')).toEqual(texts)
  }, 120_000)

  // Real back/forward cache: the browser is launched with it on (Playwright turns it off by
  // default), and the test fails unless the page really comes back from it (`pageshow` with
  // `persisted`, in the same document). No synthetic events.
  it('keeps the client of a page kept in the back/forward cache, and sends no closing notice', async () => {
    const stream = 'room:lifecycle-bfcache'
    const { page, context, welcomes } = await tab('erin', { backForwardCache: true })
    const notices = watchClosingNotices(context)
    await openConversation(page, stream)
    await send(page, 'before')
    await waitForCommitted(page, 1)
    const clientId = await welcomes.nth(1)
    await pollUntil(
      () => followersOf(stream),
      (ids) => ids.includes(clientId),
      'the tab following the stream',
    )
    const before = await closeProofs()

    await recordPageTransitions(page)
    await page.goto(`${server.url}/healthz`)
    // Away for longer than the grace: the cached page's connection is gone meanwhile.
    await outlastGrace()
    expect(await clientState(clientId)).toMatchObject({ status: 200, body: { closing: false } })
    await page.goBack({ waitUntil: 'commit' })
    await waitForBackForwardRestore(page)
    expect(await pageTransitions(page)).toEqual([
      'pagehide persisted=true',
      'pageshow persisted=true',
    ])

    // It wakes, reconnects as the same client and goes on.
    expect(await welcomes.nth(2)).toBe(clientId)
    await waitForConnection(page, 'online')
    await send(page, 'after')
    expect(await waitForCommitted(page, 2)).toEqual(['before', 'after'])
    expect(notices).toEqual([])
    expect(await closeProofs()).toEqual(before)
    await outlastGrace()
    expect(await clientState(clientId)).toMatchObject({ status: 200, body: { closing: false } })
    expect(await followersOf(stream)).toContain(clientId)
  }, 120_000)
})
