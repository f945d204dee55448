import type { Disposer } from './emitter.js'

/** Signals from the runtime that the connection cares about. */
export interface EnvironmentHooks {
  online(): void
  offline(): void
  /** The page became visible again or the device resumed: check the link now. */
  wake(): void
}

/**
 * Where network and page-lifecycle signals come from. Browsers get {@link browserEnvironment};
 * Node has none. Tests pass their own.
 */
export interface Environment {
  /** Whether the network is believed to be up right now. */
  isOnline(): boolean
  watch(hooks: EnvironmentHooks): Disposer
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

/** Browser signals: `online` / `offline`, `visibilitychange`, `pageshow`, `resume`, `focus`. */
export function browserEnvironment(): Environment | undefined {
  const g = globalThis as {
    window?: EventTargetLike
    document?: EventTargetLike & { visibilityState?: string }
    navigator?: { onLine?: boolean }
  }
  const win = g.window
  const doc = g.document
  if (win === undefined || doc === undefined) return undefined
  return {
    isOnline: () => g.navigator?.onLine !== false,
    watch(hooks) {
      const onVisibility = (): void => {
        if (doc.visibilityState === 'visible') hooks.wake()
      }
      const listeners: [EventTargetLike, string, () => void][] = [
        [win, 'online', () => hooks.online()],
        [win, 'offline', () => hooks.offline()],
        [win, 'pageshow', () => hooks.wake()],
        [win, 'focus', () => hooks.wake()],
        [doc, 'visibilitychange', onVisibility],
        [doc, 'resume', () => hooks.wake()],
      ]
      for (const [target, type, fn] of listeners) target.addEventListener(type, fn)
      return () => {
        for (const [target, type, fn] of listeners) target.removeEventListener(type, fn)
      }
    },
  }
}
