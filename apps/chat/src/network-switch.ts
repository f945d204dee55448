import { type Environment, type EnvironmentHooks, browserEnvironment } from '@seqline/client'

/**
 * The browser's network signals plus the debug drawer's "offline" switch. Switching it on tells
 * the SDK the network is gone (state `offline`: nothing is attempted, no backoff grows); switching
 * it off tells it the network is back, and it reconnects at once.
 */
export class NetworkSwitch implements Environment {
  readonly #browser = browserEnvironment()
  readonly #hooks = new Set<EnvironmentHooks>()
  #simulatedOffline = false

  get simulatedOffline(): boolean {
    return this.#simulatedOffline
  }

  isOnline(): boolean {
    return !this.#simulatedOffline && (this.#browser?.isOnline() ?? true)
  }

  watch(hooks: EnvironmentHooks): () => void {
    this.#hooks.add(hooks)
    const disposeBrowser = this.#browser?.watch({
      online: () => {
        if (!this.#simulatedOffline) hooks.online()
      },
      offline: () => hooks.offline(),
      wake: () => hooks.wake(),
      leave: () => hooks.leave(),
    })
    return () => {
      this.#hooks.delete(hooks)
      disposeBrowser?.()
    }
  }

  /** Turns the simulated outage on or off. */
  setOffline(offline: boolean): void {
    if (this.#simulatedOffline === offline) return
    this.#simulatedOffline = offline
    for (const hooks of this.#hooks) {
      if (offline) hooks.offline()
      else if (this.isOnline()) hooks.online()
    }
  }
}
