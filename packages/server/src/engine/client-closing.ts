import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics.js'
import type { ClientRef, Store } from '../store/store.js'
import { checkCloseProof, parseCloseProof } from './close-proof.js'
import { type EngineLifecycle, report } from './engine-lifecycle.js'
import type { NodeClientDirectory } from './node-client-directory.js'

/** Settings of {@link ClientClosing}. */
export interface ClientClosingSettings {
  /** A closing client is forgotten once unseen this long after its closing mark. */
  readonly forgetGraceMs: number
  /** How often "last seen" of connecting and leaving clients is written (the cursor flush). */
  readonly flushMs: number
}

/** What {@link ClientClosing} needs. */
export interface ClientClosingDeps {
  readonly store: Store
  readonly clients: NodeClientDirectory
  /** Ends the connections the client still has, on every node (final: it is gone). */
  readonly disconnect: (clientId: string) => void
  readonly lifecycle?: EngineLifecycle | undefined
  readonly metrics: Pick<Metrics, 'closeProofs'>
  readonly logger: Logger
  readonly now: () => number
}

/**
 * Clients whose tab closed for good (the seed's "when the client is destroyed, delete the client
 * row and all messages for this client"): the tab's close proof marks the client closing, and a
 * periodic job forgets the clients still unseen a grace period later — their cursors go, so they
 * hold no until-acked history and are gone from presence. A reload reconnects within the grace
 * and keeps its identity, outbox and positions.
 *
 * The mark is set `settleMs` ahead of the proof's arrival: the closing tab's own connection ends
 * at about the same moment, and "last seen" written for that departure (in a batch, up to one
 * flush later, on whatever node it was) must not count as the client coming back. A reconnection
 * in those first moments is no departure: every node marks the clients that arrived recently
 * seen again on each round of the job (`NodeClientDirectory.recentArrivals`), so it is seen after
 * the mark, before the grace can expire.
 */
export class ClientClosing {
  /** How far ahead of the proof's arrival the closing mark is set (see above). */
  readonly settleMs: number
  /** How often the job runs: a quarter of the grace. */
  readonly intervalMs: number

  constructor(
    private readonly deps: ClientClosingDeps,
    private readonly settings: ClientClosingSettings,
  ) {
    this.settleMs = closeSettleMs(settings.flushMs)
    this.intervalMs = closeJobIntervalMs(settings.forgetGraceMs)
  }

  /**
   * Accepts the close proof of `clientId` (the body of `POST /v1/clients/:id/closing`) and marks
   * the client closing. BAD_REQUEST for a malformed body; FORBIDDEN with `reason: 'stale'` for a
   * proof outside the time window, with `reason: 'invalid'` for any other — a wrong MAC, another
   * client's proof, a client that does not exist: one answer, so that nobody without the secret
   * learns whether a client exists.
   */
  async close(clientId: string, body: string): Promise<void> {
    const { store, metrics, now } = this.deps
    const proof = parseCloseProof(body)
    const at = now()
    // Client ids are short (c_…); a long one exists nowhere, but is checked like any other.
    const client = clientId.length <= 128 ? await store.getClient(clientId) : undefined
    const check = checkCloseProof(proof, clientId, client?.secretHash, at)
    metrics.closeProofs.inc({ result: check === 'valid' ? 'accepted' : check })
    if (check === 'stale') {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'The close proof is outside its time window', {
        details: { reason: 'stale' },
      })
    }
    if (check === 'invalid') {
      throw new SeqlineError(ErrorCode.FORBIDDEN, 'The close proof is not valid', {
        details: { reason: 'invalid' },
      })
    }
    // False when the client was deleted meanwhile: gone already, as asked.
    await store.markClientClosing(clientId, at + this.settleMs)
  }

  /**
   * One round of the job: marks this node's recent arrivals seen, then forgets the clients that
   * are closing and unseen for the grace, ends their connections and reports them. Returns them.
   */
  async forgetClosed(): Promise<ClientRef[]> {
    const { store, clients, lifecycle, logger } = this.deps
    const now = this.deps.now()
    const arrived = clients.recentArrivals(now)
    if (arrived.length > 0) await store.touchClients(arrived, now)
    const forgotten = await store.forgetClosingClients(now - this.settings.forgetGraceMs)
    for (const client of forgotten) {
      this.deps.disconnect(client.id)
      await report(lifecycle, logger, (l) => l.clientForgotten(client.userId, client.id, 'closed'))
    }
    if (forgotten.length > 0) logger.debug({ count: forgotten.length }, 'closed clients forgotten')
    return forgotten
  }
}

/**
 * How far ahead of a close proof's arrival the closing mark is set: one flush of "last seen" and
 * room for the closing tab's connection to end, on any node (1 s with the default 250 ms flush).
 */
export function closeSettleMs(flushMs: number): number {
  return 2 * flushMs + 500
}

/** The period of the closing job: a quarter of the grace. */
export function closeJobIntervalMs(forgetGraceMs: number): number {
  return Math.max(100, Math.floor(forgetGraceMs / 4))
}

/**
 * How long a connection stays a recent arrival (`NodeClientDirectory`): the settle time and the
 * grace, so that a reconnection up to three quarters of a grace before its tab's close proof
 * arrives (a late beacon) is still marked seen after the mark.
 */
export function arrivalWindowMs(settings: ClientClosingSettings): number {
  return closeSettleMs(settings.flushMs) + settings.forgetGraceMs
}
