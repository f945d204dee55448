import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { ClientRecord, Store } from '../store/store.js'
import { hashSecret, newClientId, newClientSecret, secretMatches } from './client-secret.js'

/**
 * The registered clients (G7: user ≠ client ≠ connection): one per app instance, with a secret
 * that is shown once and stored only as a hash, owned by exactly one user. Also knows which
 * clients are connected to this node, so that garbage collection never removes them.
 */
export class ClientDirectory {
  readonly #connected = new Map<string, number>()
  /** Clients seen since the last flush ("last seen" is written in batches, never per connection). */
  #seen = new Set<string>()

  constructor(
    private readonly store: Store,
    private readonly limits: { readonly maxClientsPerUser: number },
    private readonly now: () => number,
  ) {}

  /** Registers a new client of `userId` (TOO_MANY_CLIENTS past the per-user limit). */
  async register(userId: string): Promise<{ clientId: string; secret: string }> {
    const count = await this.store.countClientsOfUser(userId)
    if (count >= this.limits.maxClientsPerUser) {
      throw new SeqlineError(
        ErrorCode.TOO_MANY_CLIENTS,
        `user already has ${count} clients (limit ${this.limits.maxClientsPerUser})`,
      )
    }
    const clientId = newClientId()
    const secret = newClientSecret()
    const now = this.now()
    await this.store.createClient({
      id: clientId,
      userId,
      secretHash: hashSecret(secret),
      createdAt: now,
      lastSeenAt: now,
    })
    return { clientId, secret }
  }

  /**
   * Checks that `clientId` exists, belongs to `userId` and that `secret` matches (DESIGN §5).
   * CLIENT_UNKNOWN when it does not exist (garbage-collected: register again); FORBIDDEN otherwise.
   */
  async verify(userId: string, clientId: string, secret: string): Promise<ClientRecord> {
    const client = await this.store.getClient(clientId)
    if (client === undefined) {
      throw new SeqlineError(ErrorCode.CLIENT_UNKNOWN, 'unknown client id: register again')
    }
    if (client.userId !== userId || !secretMatches(secret, client.secretHash)) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'this client does not belong to this user')
    }
    return client
  }

  /** Checks ownership only (HTTP routes authenticated by the user's token). */
  async own(userId: string, clientId: string): Promise<ClientRecord> {
    const client = await this.store.getClient(clientId)
    if (client === undefined) {
      throw new SeqlineError(ErrorCode.CLIENT_UNKNOWN, 'unknown client id')
    }
    if (client.userId !== userId) {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'this client does not belong to this user')
    }
    return client
  }

  /**
   * Gives a client of `userId` a new secret and returns it (once; only its hash is stored). The old
   * secret stops working for every later `hello`, so a stolen secret can be revoked without losing
   * the client's cursors. Connections already open stay open until they drop.
   */
  async rotateSecret(userId: string, clientId: string): Promise<{ secret: string }> {
    await this.own(userId, clientId)
    const secret = newClientSecret()
    if (!(await this.store.updateClientSecret(clientId, hashSecret(secret)))) {
      // Deleted (or garbage-collected) between the ownership check and the update.
      throw new SeqlineError(ErrorCode.CLIENT_UNKNOWN, 'unknown client id')
    }
    return { secret }
  }

  /**
   * Deletes a client of `userId` with its cursors (a tab closing for good). Resolves whether this
   * call deleted it (false when a concurrent call or garbage collection did first).
   */
  async forget(userId: string, clientId: string): Promise<boolean> {
    await this.own(userId, clientId)
    return this.store.deleteClient(clientId)
  }

  /** Marks a client connected (it is then never garbage-collected) until the disposer runs. */
  connected(clientId: string): () => void {
    this.#connected.set(clientId, (this.#connected.get(clientId) ?? 0) + 1)
    this.#touch(clientId)
    let done = false
    return () => {
      if (done) return
      done = true
      const n = (this.#connected.get(clientId) ?? 1) - 1
      if (n <= 0) this.#connected.delete(clientId)
      else this.#connected.set(clientId, n)
      this.#touch(clientId)
    }
  }

  /** Whether `clientId` has a live connection on this node. */
  isConnected(clientId: string): boolean {
    return this.#connected.has(clientId)
  }

  /** Marks every client connected to this node as seen now (before garbage collection). */
  async touchConnected(now: number): Promise<void> {
    if (this.#connected.size > 0) await this.store.touchClients([...this.#connected.keys()], now)
  }

  /** Writes "last seen" of the clients that connected or left since the last flush, in one batch. */
  async flush(): Promise<void> {
    if (this.#seen.size === 0) return
    const ids = [...this.#seen]
    this.#seen = new Set()
    await this.store.touchClients(ids, this.now())
  }

  #touch(clientId: string): void {
    // Written by the next flush: a storm of connections must not cost a transaction each.
    this.#seen.add(clientId)
  }
}
