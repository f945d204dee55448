import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { ClientRecord, Store } from '../store/store.js'
import { hashSecret, newClientId, newClientSecret, secretMatches } from './client-secret.js'
import { type EngineLifecycle, report } from './engine-lifecycle.js'

/** A registration waiting for its batch. */
interface Registration {
  readonly userId: string
  readonly resolve: (registered: { clientId: string; secret: string }) => void
  readonly reject: (err: unknown) => void
}

/**
 * The registered clients (G7: user ≠ client ≠ connection): one per app instance, with a secret
 * that is shown once and stored only as a hash, owned by exactly one user. Also knows which
 * clients are connected to this node, so that garbage collection never removes them.
 */
export class ClientDirectory {
  readonly #connected = new Map<string, number>()
  /** Clients seen since the last flush ("last seen" is written in batches, never per connection). */
  #seen = new Set<string>()
  /**
   * Called when a client's credentials stop being valid (its secret rotated, it was deleted): the
   * engine ends its live connections on every node.
   */
  onRevoked: ((clientId: string, reason: string) => void) | undefined
  /** Registrations waiting for the next batch. */
  #registrations: Registration[] = []
  #registering = false

  constructor(
    private readonly store: Store,
    private readonly limits: { readonly maxClientsPerUser: number },
    private readonly now: () => number,
    private readonly lifecycle?: EngineLifecycle | undefined,
    private readonly logger?: Logger | undefined,
  ) {}

  /**
   * Registers a new client of `userId` (TOO_MANY_CLIENTS past the per-user limit). Registrations
   * that arrive in one tick are written in one transaction (a connection storm of new clients
   * costs one commit per batch, not one per client); the call resolves once its batch committed.
   */
  register(userId: string): Promise<{ clientId: string; secret: string }> {
    return new Promise((resolve, reject) => {
      this.#registrations.push({ userId, resolve, reject })
      if (!this.#registering) {
        this.#registering = true
        setImmediate(() => void this.#registerBatch())
      }
    })
  }

  async #registerBatch(): Promise<void> {
    const batch = this.#registrations.splice(0)
    const accepted: { request: Registration; clientId: string; secret: string }[] = []
    try {
      // The per-user limit counts this batch's registrations of the same user too.
      const counts = new Map<string, number>()
      for (const request of batch) {
        const count =
          counts.get(request.userId) ?? (await this.store.countClientsOfUser(request.userId))
        if (count >= this.limits.maxClientsPerUser) {
          request.reject(
            new SeqlineError(
              ErrorCode.TOO_MANY_CLIENTS,
              `user already has ${count} clients (limit ${this.limits.maxClientsPerUser})`,
            ),
          )
          continue
        }
        counts.set(request.userId, count + 1)
        accepted.push({ request, clientId: newClientId(), secret: newClientSecret() })
      }
      const now = this.now()
      await this.store.createClients(
        accepted.map(({ request, clientId, secret }) => ({
          id: clientId,
          userId: request.userId,
          secretHash: hashSecret(secret),
          createdAt: now,
          lastSeenAt: now,
        })),
      )
    } catch (err) {
      for (const { request } of accepted) request.reject(err)
      accepted.length = 0
    } finally {
      this.#registering = false
      if (this.#registrations.length > 0) {
        this.#registering = true
        setImmediate(() => void this.#registerBatch())
      }
    }
    for (const { request, clientId, secret } of accepted) {
      await this.#report((l) => l.clientRegistered(request.userId, clientId))
      request.resolve({ clientId, secret })
    }
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

  /** The client's record, whoever owns it. */
  get(clientId: string): Promise<ClientRecord | undefined> {
    return this.store.getClient(clientId)
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
   * secret stops working at once — for every later `hello`, and the connections that used it end
   * — so a stolen secret can be revoked without losing the client's cursors.
   */
  async rotateSecret(userId: string, clientId: string): Promise<{ secret: string }> {
    await this.own(userId, clientId)
    const secret = newClientSecret()
    if (!(await this.store.updateClientSecret(clientId, hashSecret(secret)))) {
      // Deleted (or garbage-collected) between the ownership check and the update.
      throw new SeqlineError(ErrorCode.CLIENT_UNKNOWN, 'unknown client id')
    }
    this.onRevoked?.(clientId, 'the client secret was rotated')
    return { secret }
  }

  /**
   * Deletes a client of `userId` with its cursors (a tab closing for good); its connections end.
   * Resolves whether this call deleted it (false when a concurrent call or garbage collection did
   * first).
   */
  async forget(userId: string, clientId: string): Promise<boolean> {
    await this.own(userId, clientId)
    const existed = await this.store.deleteClient(clientId)
    this.onRevoked?.(clientId, 'the client was deleted')
    if (existed) await this.#report((l) => l.clientForgotten(userId, clientId, 'forgotten'))
    return existed
  }

  /** Marks a client connected (it is then never garbage-collected) until `disconnected`. */
  connected(clientId: string): void {
    this.#connected.set(clientId, (this.#connected.get(clientId) ?? 0) + 1)
    this.#touch(clientId)
  }

  /** One connection of `clientId` that `connected` counted ended. */
  disconnected(clientId: string): void {
    const n = (this.#connected.get(clientId) ?? 1) - 1
    if (n <= 0) this.#connected.delete(clientId)
    else this.#connected.set(clientId, n)
    this.#touch(clientId)
  }

  /** How many clients have a live connection on this node. */
  get connectedCount(): number {
    return this.#connected.size
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

  #report(tell: (lifecycle: EngineLifecycle) => Promise<void>): Promise<void> {
    return this.logger === undefined ? Promise.resolve() : report(this.lifecycle, this.logger, tell)
  }
}
