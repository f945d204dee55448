import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, type CDPSession, type Page, chromium } from 'playwright-core'

/** Debian's Chromium; browser suites never download a browser. `.ci/run` installs it via apt. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Browser suites run when Chromium is installed, and always in CI (where a missing one fails). */
export const canRunBrowser = existsSync(CHROMIUM_PATH) || process.env.CI !== undefined

const CHAT_ROOT = fileURLToPath(new URL('../../apps/chat/', import.meta.url))

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Background tabs must keep their timers: two tabs of one user are both "in use" in the tests.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
]

/** Builds the chat app (Vite) into a temp directory; `dispose()` removes it. */
export async function buildChat(): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'seqline-chat-'))
  const { build } = await import('vite')
  await build({
    configFile: join(CHAT_ROOT, 'vite.config.ts'),
    logLevel: 'error',
    build: { outDir: dir, emptyOutDir: true, sourcemap: false },
  })
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) }
}

/** One person's browser: its own profile (cookies, storage), like a separate machine. */
export interface BrowserUser {
  readonly context: BrowserContext
  readonly page: Page
  /** Errors thrown in the page: a test fails if any appear. */
  readonly errors: string[]
  close(): Promise<void>
}

/** Options of {@link launchBrowser}. */
export interface LaunchOptions {
  readonly viewport?: { width: number; height: number }
  /**
   * Keep pages in the back/forward cache as Chrome does. Playwright turns the cache off by
   * default (`--disable-back-forward-cache`), so that `goBack()` always loads a page anew.
   */
  readonly backForwardCache?: boolean
}

/** Launches Chromium with a fresh profile and opens `url`. */
export async function launchBrowser(
  url: string,
  options: LaunchOptions = {},
): Promise<BrowserUser> {
  const profile = await mkdtemp(join(tmpdir(), 'seqline-profile-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: ARGS,
    viewport: options.viewport ?? { width: 1200, height: 760 },
    ...(options.backForwardCache === true
      ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] }
      : {}),
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(url)
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

const cdpSessions = new WeakMap<Page, Promise<CDPSession>>()

/** Switches a page's network off or on through the DevTools protocol (like DevTools' "Offline"). */
export async function setNetwork(page: Page, online: boolean): Promise<void> {
  let session = cdpSessions.get(page)
  if (session === undefined) {
    // One session per page: emulation set through a session lasts as long as that session.
    session = page
      .context()
      .newCDPSession(page)
      .then(async (s) => {
        await s.send('Network.enable')
        return s
      })
    cdpSessions.set(page, session)
  }
  const cdp = await session
  await cdp.send('Network.emulateNetworkConditions', {
    offline: !online,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  })
}
