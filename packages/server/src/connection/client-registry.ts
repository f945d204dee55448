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
  readonly #byClient = new Map<string, Set<Replaceable>>()

  constructor(private readonly maxPerClient: number) {}

  /**
   * Claims a slot for `connection`. When the client is full, a `takeover` naming one of its
   * connections replaces that one, and so does a connection nothing can reach any more (a
   * reloaded page's HTTP session, whose reads died with the page); otherwise the claim fails with
   * 'full'.
   */
  claim(clientId: string, connection: Replaceable, takeover: string | undefined): 'ok' | 'full' {
    let set = this.#byClient.get(clientId)
    if (set === undefined) this.#byClient.set(clientId, (set = new Set()))
    if (set.size >= this.maxPerClient) {
      const stale = [...set].find((c) => c.id === takeover) ?? [...set].find((c) => c.detached)
      if (stale === undefined) return 'full'
      set.delete(stale)
      stale.replace()
    }
    set.add(connection)
    return 'ok'
  }

  release(clientId: string, connection: Replaceable): void {
    const set = this.#byClient.get(clientId)
    if (set === undefined) return
    set.delete(connection)
    if (set.size === 0) this.#byClient.delete(clientId)
  }
}
