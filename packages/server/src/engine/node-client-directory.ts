import { ClientDirectory } from './client-directory.js'

/** Options of {@link NodeClientDirectory}. */
export interface NodeClientDirectoryOptions {
  /** How long an arrival stays recent (see `recentArrivals`). */
  readonly arrivalWindowMs: number
}

/**
 * The client directory as one node sees it: {@link ClientDirectory}, plus what the client
 * lifecycle needs to know of this node's connections — how many clients are connected, and which
 * connected recently.
 *
 * Recent arrivals matter because "last seen" is written in batches: a tab that reloads sends its
 * close proof and reconnects within about a second, on any node, and that reconnection must be
 * seen *after* the closing mark, or the client would be forgotten while connected. Marking the
 * clients that arrived recently (and are still here) seen again on every round of the closing job
 * makes sure it is — without writing "last seen" of every connected client every few seconds.
 */
export class NodeClientDirectory extends ClientDirectory {
  /** Last arrival per client, oldest first (a client arriving again moves to the end). */
  readonly #arrivals = new Map<string, number>()
  readonly #now: () => number

  constructor(
    private readonly options: NodeClientDirectoryOptions,
    ...args: ConstructorParameters<typeof ClientDirectory>
  ) {
    super(...args)
    this.#now = args[2]
  }

  override connected(clientId: string): void {
    this.#arrivals.delete(clientId)
    this.#arrivals.set(clientId, this.#now())
    super.connected(clientId)
  }

  /**
   * The clients that connected to this node within the arrival window and are still connected;
   * older arrivals are forgotten.
   */
  recentArrivals(now: number): string[] {
    const since = now - this.options.arrivalWindowMs
    for (const [clientId, at] of this.#arrivals) {
      if (at >= since) break
      this.#arrivals.delete(clientId)
    }
    return [...this.#arrivals.keys()].filter((clientId) => this.isConnected(clientId))
  }
}
