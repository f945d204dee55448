import { Multimap } from '../engine/multimap.js'

/** Anything the registry can replace. */
export interface Replaceable {
  readonly id: string
  /**
   * Nothing can reach its client (an HTTP session whose event read is gone): a newer connection
   * of the same client may replace it without naming it.
   */
  readonly detached: boolean
  replace(): void
}

/**
 * Live connections per client on this node, for the connections-per-client limit and for the
 * takeover of a client's own stale connection (a half-open socket the server has not noticed yet).
 */
export class ClientRegistry {
  readonly #byClient = new Multimap<string, Replaceable>()

  constructor(private readonly maxPerClient: number) {}

  /**
   * Claims a slot for `connection`. When the client is full, a `takeover` naming one of its
   * connections replaces that one, and so does a connection nothing can reach any more (a
   * reloaded page's HTTP session, whose reads died with the page); otherwise the claim fails with
   * 'full'.
   */
  claim(clientId: string, connection: Replaceable, takeover: string | undefined): 'ok' | 'full' {
    if (this.#byClient.count(clientId) >= this.maxPerClient) {
      const live = this.#byClient.get(clientId)
      const stale = live.find((c) => c.id === takeover) ?? live.find((c) => c.detached)
      if (stale === undefined) return 'full'
      this.#byClient.delete(clientId, stale)
      stale.replace()
    }
    this.#byClient.add(clientId, connection)
    return 'ok'
  }

  release(clientId: string, connection: Replaceable): void {
    this.#byClient.delete(clientId, connection)
  }
}
