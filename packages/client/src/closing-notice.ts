import type { Clock, TimerHandle } from './clock.js'

/** How often the notice is signed again while the connection is open. */
export const NOTICE_REFRESH_MS = 60_000
/** How long the server accepts a notice after its `ts`. */
export const NOTICE_VALID_MS = 120_000

/** What a {@link ClosingNotice} needs. */
export interface ClosingNoticeOptions {
  readonly clock: Clock
  /** The environment's `navigator.sendBeacon`, if any; returns whether the beacon was queued. */
  beacon?(url: string, body: string): boolean
  /** For the fallback, a `fetch` with `keepalive` (default: the global one). */
  readonly fetch?: typeof fetch
}

/**
 * "This client is closing for good", told to the server while the page unloads:
 * `POST /v1/clients/<clientId>/closing` with the `text/plain` body `{"ts": <ms>, "mac": "<mac>"}`,
 * where `mac` is the base64url HMAC-SHA256 of `seqline-close:<clientId>:<ts>` keyed with the 32 raw
 * bytes of SHA-256(client secret). A beacon carries no `Authorization` header; the MAC proves the
 * sender holds the client's secret without sending it.
 *
 * A `pagehide` handler must send synchronously, and WebCrypto is asynchronous: the notice is
 * signed ahead of time — when the connection opens, then every {@link NOTICE_REFRESH_MS} while it
 * stays open — and one older than {@link NOTICE_VALID_MS} (the server's window) is not sent. The
 * client loads this module with its first `welcome`, and only where there are pages to leave.
 */
export class ClosingNotice {
  readonly #options: ClosingNoticeOptions
  #signed: { readonly url: string; readonly ts: number; readonly body: string } | undefined
  #timer: TimerHandle | undefined
  /** Bumped by every start/stop: a signature finished for an older one is dropped. */
  #generation = 0

  constructor(options: ClosingNoticeOptions) {
    this.#options = options
  }

  /** When the notice ready to be sent was signed (its `ts`), if one is. */
  get signedAt(): number | undefined {
    return this.#signed?.ts
  }

  /** Signs the notice of `clientId` at `url` now and every minute until `stop()`. */
  start(url: string, clientId: string, secret: string): void {
    this.stop()
    const generation = this.#generation
    const sign = (): void => {
      const ts = this.#options.clock.now()
      signClosing(clientId, secret, ts).then(
        (mac) => {
          if (generation === this.#generation) {
            this.#signed = { url, ts, body: JSON.stringify({ ts, mac }) }
          }
        },
        // No WebCrypto (an insecure context): nothing can be proven, nothing is sent.
        () => {},
      )
      this.#timer = this.#options.clock.setTimeout(sign, NOTICE_REFRESH_MS)
    }
    sign()
  }

  /** Stops signing; the last notice stays ready for its remaining validity. */
  stop(): void {
    this.#generation += 1
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** The page is leaving: sends the last notice if it is still valid. Synchronous. */
  send(): boolean {
    const signed = this.#signed
    if (signed === undefined || this.#options.clock.now() - signed.ts >= NOTICE_VALID_MS) {
      return false
    }
    this.#signed = undefined
    const { url, body } = signed
    if (this.#options.beacon?.(url, body) === true) return true
    try {
      const doFetch = this.#options.fetch ?? globalThis.fetch
      const init = { method: 'POST', body, keepalive: true }
      doFetch(url, { ...init, headers: { 'content-type': 'text/plain' } }).catch(() => {})
      return true
    } catch {
      return false
    }
  }
}

/** base64url(HMAC-SHA256(SHA-256(secret), `seqline-close:<clientId>:<ts>`)), without padding. */
export async function signClosing(clientId: string, secret: string, ts: number): Promise<string> {
  const subtle = globalThis.crypto.subtle
  const encode = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text)
  const keyBytes = await subtle.digest('SHA-256', encode(secret))
  const key = await subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
  const mac = new Uint8Array(
    await subtle.sign('HMAC', key, encode(`seqline-close:${clientId}:${ts}`)),
  )
  let binary = ''
  for (const byte of mac) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
