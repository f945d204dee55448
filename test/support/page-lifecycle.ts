import type { BrowserContext, Page } from 'playwright-core'

// What the browser lifecycle suite watches in a page: the client id each connection is welcomed
// with, the closing notices the page sends, and the page's own pagehide / pageshow events.

/** The client ids a page's connections were welcomed with, in order, across reloads. */
export interface WelcomeLog {
  readonly clientIds: readonly string[]
  /** Resolves with the id of the `count`-th welcome once it arrived (1 = the first). */
  nth(count: number, timeoutMs?: number): Promise<string>
}

/**
 * Records the `welcome` frame of every WebSocket the page opens from now on (reloads included:
 * the page object outlives its documents).
 */
export function watchWelcomes(page: Page): WelcomeLog {
  const clientIds: string[] = []
  const waiters = new Set<() => void>()
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string' || !payload.includes('"welcome"')) return
      const frame = JSON.parse(payload) as { t?: unknown; clientId?: unknown }
      if (frame.t !== 'welcome' || typeof frame.clientId !== 'string') return
      clientIds.push(frame.clientId)
      for (const wake of waiters) wake()
    })
  })
  return {
    clientIds,
    nth: (count, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const id = clientIds[count - 1]
          if (id === undefined) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve(id)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no welcome #${count} within ${timeoutMs} ms (got ${clientIds.length})`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
  }
}

/** The URLs of the closing notices (`POST /v1/clients/<id>/closing`) any page of `context` sent. */
export function watchClosingNotices(context: BrowserContext): readonly string[] {
  const urls: string[] = []
  context.on('request', (request) => {
    if (/\/v1\/clients\/[^/]+\/closing$/.test(new URL(request.url()).pathname)) {
      urls.push(request.url())
    }
  })
  return urls
}

/**
 * Starts recording the current document's `pagehide` and `pageshow` events as
 * `"<type> persisted=<bool>"`; a document restored from the back/forward cache keeps the record.
 */
export async function recordPageTransitions(page: Page): Promise<void> {
  await page.evaluate(() => {
    const record: string[] = []
    Object.assign(window, { seqlineTransitions: record })
    for (const type of ['pagehide', 'pageshow']) {
      addEventListener(type, (event) => {
        record.push(`${type} persisted=${String((event as PageTransitionEvent).persisted)}`)
      })
    }
  })
}

/**
 * Waits until the document {@link recordPageTransitions} started in is shown again from the
 * back/forward cache (`pageshow` with `persisted`); a restored page fires no `load`, so navigate
 * back with `waitUntil: 'commit'`. Rejects, with Chromium's reasons, when the page was loaded anew.
 */
export async function waitForBackForwardRestore(page: Page, timeoutMs = 15_000): Promise<void> {
  try {
    await page.waitForFunction(
      () =>
        (window as { seqlineTransitions?: string[] }).seqlineTransitions?.includes(
          'pageshow persisted=true',
        ) === true,
      undefined,
      { timeout: timeoutMs, polling: 100 },
    )
  } catch (cause) {
    const entry = await page
      .evaluate(() => JSON.stringify(performance.getEntriesByType('navigation')[0]?.toJSON()))
      .catch(() => 'unknown')
    throw new Error(`The page was not restored from the back/forward cache: ${entry}`, { cause })
  }
}

/**
 * The events {@link recordPageTransitions} recorded, or `undefined` when the document is not the
 * one it started in (the page was loaded anew rather than restored).
 */
export function pageTransitions(page: Page): Promise<string[] | undefined> {
  return page.evaluate(() =>
    (window as { seqlineTransitions?: string[] }).seqlineTransitions?.slice(),
  )
}
