import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import type { FollowOptions, FollowReport, SdkPageApi } from './sdk-page-script.js'

export type { FollowOptions, FollowReport } from './sdk-page-script.js'

const SCRIPT = fileURLToPath(new URL('./sdk-page-script.ts', import.meta.url))

/**
 * Builds a bare test page that runs @seqline/client in the browser (sdk-page-script.ts bundled
 * with esbuild, the HTTP transport's chunk included) into a temp directory, for
 * `seqline serve --static-dir`. `dispose()` removes it.
 */
export async function buildSdkPage(): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'seqline-sdk-page-'))
  const { build } = await import('esbuild')
  await build({
    entryPoints: [SCRIPT],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    // Node-only modules the SDK imports lazily (FileStorage, the ws package): never loaded here.
    external: ['ws', 'node:*'],
    outfile: join(dir, 'sdk-page.js'),
    logLevel: 'error',
  })
  await writeFile(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>Seqline SDK</title>' +
      '<script type="module" src="/sdk-page.js"></script>\n',
  )
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) }
}

type PageWindow = typeof globalThis & { seqlinePage?: SdkPageApi }

/** Starts one client in the page (loaded from {@link buildSdkPage}) following `options.streams`. */
export async function follow(page: Page, options: FollowOptions): Promise<void> {
  await page.waitForFunction(() => (globalThis as PageWindow).seqlinePage !== undefined)
  await page.evaluate((o) => (globalThis as PageWindow).seqlinePage?.follow(o), options)
}

/** What the page's client has seen so far. */
export async function pageReport(page: Page): Promise<FollowReport> {
  const report = await page.evaluate(() => (globalThis as PageWindow).seqlinePage?.report())
  if (report === undefined) throw new Error('the SDK page is not loaded')
  return report
}
