import { afterEach, describe, expect, it, vi } from 'vitest'
import { browserEnvironment } from './environment.js'

/** A page: window, document and navigator as event targets the test dispatches on. */
function page() {
  const window = new EventTarget()
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' })
  const beacons: [string, string][] = []
  const navigator = {
    onLine: true,
    sendBeacon: (url: string, body: string) => beacons.push([url, body]) > 0,
  }
  vi.stubGlobal('window', window)
  vi.stubGlobal('document', document)
  vi.stubGlobal('navigator', navigator)
  const pageEvent = (type: string, persisted: boolean) =>
    window.dispatchEvent(Object.assign(new Event(type), { persisted }))
  return { window, document, navigator, beacons, pageEvent }
}

function hooks() {
  const calls: string[] = []
  return {
    calls,
    hooks: {
      online: () => calls.push('online'),
      offline: () => calls.push('offline'),
      wake: () => calls.push('wake'),
      leave: () => calls.push('leave'),
    },
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('browserEnvironment', () => {
  it('leaves on a pagehide that does not keep the page, and wakes when one comes back', () => {
    const { pageEvent } = page()
    const { calls, hooks: h } = hooks()
    browserEnvironment()!.watch(h)
    pageEvent('pagehide', true)
    pageEvent('pageshow', true)
    pageEvent('pagehide', false)
    expect(calls).toEqual(['wake', 'leave'])
  })

  it('sends beacons with navigator.sendBeacon and says when it could not', () => {
    const { beacons, navigator } = page()
    const environment = browserEnvironment()!
    expect(environment.beacon?.('https://x/v1/clients/c1/closing', '{"ts":1}')).toBe(true)
    expect(beacons).toEqual([['https://x/v1/clients/c1/closing', '{"ts":1}']])
    navigator.sendBeacon = () => false
    expect(environment.beacon?.('https://x', '{}')).toBe(false)
  })

  it('detaches every listener when disposed', () => {
    const { pageEvent, window } = page()
    const { calls, hooks: h } = hooks()
    const dispose = browserEnvironment()!.watch(h)
    dispose()
    pageEvent('pagehide', false)
    window.dispatchEvent(new Event('offline'))
    expect(calls).toEqual([])
  })

  it('is absent outside a browser', () => {
    expect(browserEnvironment()).toBeUndefined()
  })
})
