import { MemoryStorage, type SeqlineClient, createClient } from '@seqline/client'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { type BrowserUser, canRunBrowser, launchBrowser } from '../support/browser.js'
import { startBufferingProxy } from '../support/buffering-proxy.js'
import { startNoWebSocketProxy } from '../support/no-websocket-proxy.js'
import { type FollowReport, buildSdkPage, follow, pageReport } from '../support/sdk-page.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'

// The SDK's HTTP fallback in real Chromium, against a real `seqline serve` process: the page is
// loaded through a proxy that refuses WebSocket upgrades (or holds every response until it ends),
// so the browser's own WebSocket fails and its own fetch carries the session. Plain http:// on
// loopback is HTTP/1.1, where Chromium opens at most 6 connections per origin: 20 streams only
// work because the HTTP session carries all of them over one event read and one POST at a time.

const STREAMS = 20
const PER_STREAM = 15

let server: ServerProcess
let sdkPage: { dir: string; dispose: () => Promise<void> }
let publisher: SeqlineClient

beforeAll(async () => {
  sdkPage = await buildSdkPage()
  server = await startServerProcess({
    args: ['--static-dir', sdkPage.dir, '--publish-rate', '5000', '--publish-burst', '5000'],
  })
  publisher = createClient({
    url: server.url,
    token: 'publisher',
    transport: 'websocket',
    storage: new MemoryStorage(),
    environment: null,
  })
}, 60_000)

afterAll(async () => {
  await publisher?.close()
  await server?.dispose()
  await sdkPage?.dispose()
})

async function browserAt(url: string): Promise<BrowserUser> {
  const browser = await launchBrowser(url)
  onTestFinished(async () => {
    expect(browser.errors).toEqual([])
    await browser.close()
  })
  return browser
}

/** Publishes `PER_STREAM` messages to each stream from Node, interleaved across the streams. */
async function publishAll(streams: readonly string[]): Promise<void> {
  const done: Promise<unknown>[] = []
  for (let n = 0; n < PER_STREAM; n++) {
    for (const stream of streams) done.push(publisher.stream<number>(stream).publish(n))
  }
  await Promise.all(done)
}

/** Waits until every stream delivered `0 … PER_STREAM-1`; fails at once on a wrong delivery. */
async function waitForAll(
  browser: BrowserUser,
  streams: readonly string[],
  timeout: number,
): Promise<FollowReport> {
  const expected = Array.from({ length: PER_STREAM }, (_, n) => n)
  let report = await pageReport(browser.page)
  const deadline = Date.now() + timeout
  for (;;) {
    // A message lost, doubled or out of order shows as a list that is not a prefix of `expected`.
    for (const stream of streams) {
      const got = report.received[stream] ?? []
      expect(got, stream).toEqual(expected.slice(0, got.length))
    }
    if (streams.every((s) => report.received[s]?.length === PER_STREAM)) return report
    if (Date.now() > deadline) {
      const counts = streams.map((s) => report.received[s]?.length ?? 0)
      throw new Error(`not everything arrived: ${counts.join(' ')} (${JSON.stringify(report)})`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    report = await pageReport(browser.page)
  }
}

const streamsOf = (name: string) =>
  Array.from({ length: STREAMS }, (_, i) => `room:${name}-${String(i).padStart(2, '0')}`)

describe.skipIf(!canRunBrowser)('the HTTP fallback in Chromium', () => {
  it('carries 20 live streams over one HTTP/1.1 session when WebSocket is blocked', async () => {
    const proxy = await startNoWebSocketProxy(server.url)
    onTestFinished(() => proxy.close())
    const browser = await browserAt(`${proxy.url}/`)
    const streams = streamsOf('blocked')
    await follow(browser.page, { url: proxy.url, token: 'alice', streams })

    await expect
      .poll(async () => (await pageReport(browser.page)).subscribed.length, { timeout: 30_000 })
      .toBe(STREAMS)
    await publishAll(streams)
    const report = await waitForAll(browser, streams, 30_000)

    // The browser's WebSocket was refused; the client switched to the HTTP session and kept it.
    expect(proxy.refusedUpgrades).toBeGreaterThanOrEqual(2)
    expect(report.state).toEqual({ kind: 'open', transport: 'sse' })
    expect(report.transports.length).toBeGreaterThan(0)
    expect(new Set(report.transports)).toEqual(new Set(['sse']))
    expect(report.errors).toEqual([])
    // One event read per session carried all 20 streams (one read per stream would be 20).
    const forwarded = proxy.requests
    const sessions = forwarded.filter((r) => r === 'POST /v1/sessions').length
    const reads = forwarded.filter((r) => /^GET \/v1\/sessions\/[^/]+\/events$/.test(r)).length
    expect(sessions).toBeGreaterThanOrEqual(1)
    expect(reads).toBe(sessions)
    // The page spoke HTTP/1.1, where the browser's 6-connections-per-origin limit holds.
    const protocols = await browser.page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .map((e) => (e as PerformanceResourceTiming).nextHopProtocol),
    )
    expect(protocols.length).toBeGreaterThan(0)
    expect(new Set(protocols)).toEqual(new Set(['http/1.1']))
  }, 120_000)

  it('switches to long-poll behind a proxy that buffers responses, losing nothing', async () => {
    const proxy = await startBufferingProxy(server.url)
    onTestFinished(() => proxy.close())
    const browser = await browserAt(`${proxy.url}/`)
    const streams = streamsOf('buffered')
    await follow(browser.page, {
      url: proxy.url,
      token: 'alice',
      streams,
      connectTimeoutMs: 5_000,
      sseProbeMs: 2_000,
    })

    // The SSE read stays silent behind the proxy: the client's own probe switches it to long-poll.
    await expect
      .poll(async () => (await pageReport(browser.page)).state, { timeout: 40_000 })
      .toEqual({ kind: 'open', transport: 'long-poll' })
    await expect
      .poll(async () => (await pageReport(browser.page)).subscribed.length, { timeout: 20_000 })
      .toBe(STREAMS)
    await publishAll(streams)
    const report = await waitForAll(browser, streams, 30_000)

    expect(report.transports).toEqual(['sse', 'long-poll'])
    expect(report.state).toEqual({ kind: 'open', transport: 'long-poll' })
    expect(report.errors).toEqual([])
    // Everything came through the proxy as whole responses.
    expect(proxy.held).toBeGreaterThan(0)
  }, 120_000)
})
