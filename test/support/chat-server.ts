import type { Page } from 'playwright-core'
import { expect, onTestFinished } from 'vitest'
import { type BrowserUser, type LaunchOptions, buildChat, launchBrowser } from './browser.js'
import { signIn } from './chat-page.js'
import { type ServerProcess, startServerProcess } from './server-process.js'

/** Options of {@link ChatServer.user}. */
export interface ChatUserOptions extends LaunchOptions {
  /** Called with the page before it signs in (to watch what signing in sends and receives). */
  readonly beforeSignIn?: (page: Page) => void
}

/** The chat demo, built and served by a real `seqline serve` process, for the Chromium suites. */
export interface ChatServer {
  readonly server: ServerProcess
  /**
   * A signed-in chat tab of a fresh browser profile, closed when the test finishes, which then
   * fails if the page logged an error.
   */
  user(name: string, options?: ChatUserOptions): Promise<BrowserUser>
  dispose(): Promise<void>
}

/**
 * Builds the chat and starts `seqline serve --static-dir <it>` with publish limits a chatty test
 * never reaches, plus `args` and `env`.
 *
 * @example
 * let chat: ChatServer
 * beforeAll(async () => { chat = await startChatServer() }, 120_000)
 * afterAll(() => chat?.dispose())
 */
export async function startChatServer(
  options: { readonly args?: readonly string[]; readonly env?: Record<string, string> } = {},
): Promise<ChatServer> {
  const built = await buildChat()
  let server: ServerProcess
  try {
    server = await startServerProcess({
      args: [
        '--static-dir',
        built.dir,
        '--publish-rate',
        '1000',
        '--publish-burst',
        '2000',
        ...(options.args ?? []),
      ],
      ...(options.env === undefined ? {} : { env: options.env }),
    })
  } catch (err) {
    await built.dispose()
    throw err
  }
  return {
    server,
    async user(name, launch = {}) {
      const browser = await launchBrowser(`${server.url}/`, launch)
      launch.beforeSignIn?.(browser.page)
      onTestFinished(async () => {
        expect(browser.errors).toEqual([])
        await browser.close()
      })
      await signIn(browser.page, name)
      return browser
    },
    async dispose() {
      await server.dispose()
      await built.dispose()
    },
  }
}
