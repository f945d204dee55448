import type { Disposer } from './emitter.js'

/** Signals from the runtime that the client cares about. */
export interface EnvironmentHooks {
  online(): void
  offline(): void
  /**
   * The page became visible again, was restored from the back/forward cache, or the device
   * resumed: check the link now.
   */
  wake(): void
  /**
   * The page is being discarded (`pagehide` and not kept in the back/forward cache): the last
   * moment to tell the server, and only synchronously.
   */
  leave(): void
}

/**
 * Where network and page-lifecycle signals come from. Browsers get {@link browserEnvironment};
 * Node has none. Tests pass their own.
 */
export interface Environment {
  /** Whether the network is believed to be up right now. */
  isOnline(): boolean
  watch(hooks: EnvironmentHooks): Disposer
  /**
   * Sends a small `text/plain` POST that must outlive the page (`navigator.sendBeacon`).
   * Synchronous; returns whether the request was queued. When it is absent or returns false, the
   * client sends a `fetch` with `keepalive` instead.
   */
  beacon?(url: string, body: string): boolean
}

interface EventTargetLike {
  addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void
  removeEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void
}

/**
 * Browser signals: `online` / `offline`, `visibilitychange`, `pageshow`, `resume`, `focus` (wake),
 * `pagehide` with `persisted === false` (leave; a page kept in the back/forward cache comes back
 * with `pageshow` and simply wakes), and `navigator.sendBeacon`.
 */
export function browserEnvironment(): Environment | undefined {
  const g = globalThis as {
    window?: EventTargetLike
    document?: EventTargetLike & { visibilityState?: string }
    navigator?: { onLine?: boolean; sendBeacon?: (url: string, data: string) => boolean }
  }
  const win = g.window
  const doc = g.document
  if (win === undefined || doc === undefined) return undefined
  return {
    isOnline: () => g.navigator?.onLine !== false,
    watch(hooks) {
      const listeners: [EventTargetLike, string, (event: { persisted?: boolean }) => void][] = [
        [win, 'online', () => hooks.online()],
        [win, 'offline', () => hooks.offline()],
        [win, 'pageshow', () => hooks.wake()],
        [win, 'focus', () => hooks.wake()],
        [win, 'pagehide', (event) => event.persisted === false && hooks.leave()],
        [doc, 'visibilitychange', () => doc.visibilityState === 'visible' && hooks.wake()],
        [doc, 'resume', () => hooks.wake()],
      ]
      for (const [target, type, fn] of listeners) target.addEventListener(type, fn)
      return () => {
        for (const [target, type, fn] of listeners) target.removeEventListener(type, fn)
      }
    },
    // A string is sent as `text/plain;charset=UTF-8`: a simple request, no CORS preflight.
    beacon: (url, body) => g.navigator?.sendBeacon?.(url, body) === true,
  }
}
