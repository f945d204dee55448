import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { ClosingNotice, NOTICE_REFRESH_MS, signClosing } from './closing-notice.js'
import { ManualClock } from './manual-clock.js'

const URL = 'https://chat.example.com/v1/clients/c1/closing'

function setup(beacon: (url: string, body: string) => boolean = () => true) {
  const clock = new ManualClock()
  const sent: [string, { ts: number; mac: string }][] = []
  const fetched: [string, RequestInit][] = []
  const notice = new ClosingNotice({
    clock,
    beacon: (url, body) => {
      sent.push([url, JSON.parse(body) as { ts: number; mac: string }])
      return beacon(url, body)
    },
    fetch: (async (url: string, init: RequestInit) => {
      fetched.push([url, init])
      return new Response(null, { status: 204 })
    }) as typeof fetch,
  })
  return { clock, notice, sent, fetched }
}

/** What the server computes. */
function expectedMac(clientId: string, secret: string, ts: number): string {
  const key = createHash('sha256').update(secret).digest()
  return createHmac('sha256', key).update(`seqline-close:${clientId}:${ts}`).digest('base64url')
}

/** WebCrypto answers asynchronously: wait until the notice signed at `ts` is ready. */
const signed = (notice: ClosingNotice, ts: number) =>
  vi.waitFor(() => expect(notice.signedAt).toBe(ts))

describe('ClosingNotice', () => {
  it('signs `seqline-close:<id>:<ts>` with HMAC-SHA256 keyed by the SHA-256 of the secret', async () => {
    expect(await signClosing('c1', 's3cret', 1_700_000_000_000)).toBe(
      expectedMac('c1', 's3cret', 1_700_000_000_000),
    )
  })

  it('sends nothing before the first signature is ready, then the signed notice', async () => {
    const { clock, notice, sent } = setup()
    notice.start(URL, 'c1', 's3cret')
    expect(notice.send()).toBe(false)
    await signed(notice, clock.now())
    expect(notice.send()).toBe(true)
    expect(sent).toEqual([
      [URL, { ts: clock.now(), mac: expectedMac('c1', 's3cret', clock.now()) }],
    ])
  })

  it('signs again every minute while started, and stops when told', async () => {
    const { clock, notice, sent } = setup()
    notice.start(URL, 'c1', 's3cret')
    await signed(notice, clock.now())
    clock.advance(NOTICE_REFRESH_MS)
    await signed(notice, clock.now())
    notice.send()
    expect(sent[0]?.[1].ts).toBe(clock.now())
    notice.stop()
    expect(clock.pending).toBe(0)
  })

  it('does not send a notice older than the server accepts', async () => {
    const { clock, notice, sent } = setup()
    notice.start(URL, 'c1', 's3cret')
    await signed(notice, clock.now())
    notice.stop()
    clock.jump(120_000)
    expect(notice.send()).toBe(false)
    expect(sent).toEqual([])
  })

  it('falls back to a keepalive fetch of text/plain when the beacon is refused', async () => {
    const { clock, notice, fetched } = setup(() => false)
    notice.start(URL, 'c1', 's3cret')
    await signed(notice, clock.now())
    expect(notice.send()).toBe(true)
    expect(fetched).toMatchObject([
      [URL, { method: 'POST', keepalive: true, headers: { 'content-type': 'text/plain' } }],
    ])
  })
})
