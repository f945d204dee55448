import type { Logger } from 'pino'
import type { Authorize } from '../auth/authenticator.js'
import { Authorizer } from '../auth/authorizer.js'
import type { Bus } from '../bus/bus.js'
import type { Metrics } from '../observability/metrics.js'
import type { ServerSettings } from '../settings/server-settings.js'
import type { Store } from '../store/store.js'
import { Admission } from './admission.js'
import { ClientClosing, arrivalWindowMs } from './client-closing.js'
import type { ClientDirectory } from './client-directory.js'
import type { EngineLifecycle } from './engine-lifecycle.js'
import { type ClusterHost, ClusterLink } from './cluster-link.js'
import { countedLifecycle } from './counted-lifecycle.js'
import { CursorLog } from './cursor-log.js'
import { DeliveryState } from './delivery-state.js'
import { Housekeeping } from './housekeeping.js'
import { NodeClientDirectory } from './node-client-directory.js'
import { Presence } from './presence/presence.js'
import { presenceModes } from './presence/presence-rules.js'
import { RetentionPolicies } from './retention-rules.js'
import { Sessions } from './sessions.js'
import { StreamFollowers } from './stream-followers.js'
import { Streams } from './streams.js'

/** The settings the engine runs with (a slice of the server's). */
export type EngineSettings = Pick<
  ServerSettings,
  | 'limits'
  | 'delivery'
  | 'presence'
  | 'retention'
  | 'clients'
  | 'producers'
  | 'cursors'
  | 'expiry'
  | 'cluster'
  | 'authorizeCacheMs'
>

/** What the engine is built from. */
export interface EngineDeps {
  readonly store: Store
  readonly logger: Logger
  readonly metrics: Metrics
  /** Called for every subscribe, resume, publish, signal, ack, presence lookup and management. */
  readonly authorize: Authorize
  /** Multi-node: the bus this node shares commits, signals and presence on. Default: one node. */
  readonly bus?: Bus | undefined
  readonly now?: (() => number) | undefined
  /** Told of clients and streams coming and going (webhooks record it durably). */
  readonly lifecycle?: EngineLifecycle | undefined
}

/**
 * The transport-agnostic heart of Seqline (DESIGN §3): a small façade that builds its parts and
 * starts and stops them. Each part is one concept with a narrow interface:
 *
 * - `streams`: group-committed appends fanned out to each stream's followers, metadata, reads,
 *   live reads on the cursor pumps (StreamFollowers keeps the per-stream subscriber index);
 * - `sessions`: the connections of this node and — alone — their subscriptions; revocation and
 *   disconnects;
 * - `authorizer` and `admission`: every door's authorization and its size, depth and rate checks;
 * - `clients` and `cursors`: registered clients with their secrets (G7), and their acks;
 * - `presence`: who is connected, coalesced, capped and paged;
 * - `closing`: clients whose tab closed for good, forgotten after a grace;
 * - `delivery`: delivery state for support (positions, lags, who holds a tail back);
 * - `housekeeping`: retention, expiry, client GC and closing, batched writes.
 *
 * The engine knows no wire format: followers receive typed events (engine/follower.ts) and encode
 * them themselves. With a bus, a ClusterLink joins the other nodes.
 */
export class Engine {
  readonly streams: Streams
  readonly sessions: Sessions
  readonly authorizer: Authorizer
  readonly admission: Admission
  readonly clients: ClientDirectory
  readonly cursors: CursorLog
  readonly presence: Presence
  readonly closing: ClientClosing
  readonly delivery: DeliveryState
  readonly housekeeping: Housekeeping
  readonly #cluster: ClusterLink | undefined
  #closed = false

  constructor(deps: EngineDeps, settings: EngineSettings) {
    const { store, logger, metrics } = deps
    const now = deps.now ?? Date.now
    const pump = {
      pageSize: settings.delivery.pageSize,
      pageBytes: settings.delivery.pageBytes,
      highWaterMark: settings.delivery.highWaterMark,
    }
    const followers = new StreamFollowers(store, settings.delivery.windowBytes)
    this.authorizer = new Authorizer(deps.authorize, logger, {
      cacheMs: settings.authorizeCacheMs,
      now,
    })
    this.admission = new Admission(settings.limits, this.authorizer, now)
    this.presence = new Presence({
      intervalMs: settings.presence.intervalMs,
      snapshotUsers: settings.presence.snapshotUsers,
      highWaterMark: settings.delivery.highWaterMark,
      modeOf: presenceModes(settings.presence.rules, 'on'),
    })
    this.cursors = new CursorLog(store, followers, now)
    // Every way a client is forgotten is counted (seqline_clients_forgotten_total).
    const clientLifecycle = countedLifecycle(deps.lifecycle, metrics)
    const closingSettings = {
      forgetGraceMs: settings.clients.forgetGraceMs,
      flushMs: settings.cursors.flushMs,
    }
    const clients = new NodeClientDirectory(
      { arrivalWindowMs: arrivalWindowMs(closingSettings) },
      store,
      settings.limits,
      now,
      clientLifecycle,
      logger,
    )
    this.clients = clients
    const retention = new RetentionPolicies(
      settings.retention.rules,
      settings.retention.defaultPolicy,
    )
    this.delivery = new DeliveryState({ store, cursors: this.cursors, retention })
    const cluster = (): ClusterLink | undefined => this.#cluster
    this.streams = new Streams({
      store,
      followers,
      admission: this.admission,
      logger,
      metrics,
      now,
      pump,
      cluster,
      gone: (stream) => this.sessions.streamGone(stream),
      lifecycle: deps.lifecycle,
    })
    this.sessions = new Sessions({
      store,
      streams: this.streams,
      followers,
      presence: this.presence,
      authorizer: this.authorizer,
      admission: this.admission,
      cursors: this.cursors,
      clients: this.clients,
      logger,
      metrics,
      pump,
      maxStreamsPerSession: settings.limits.maxStreamsPerConnection,
      cluster,
    })
    this.clients.onRevoked = (client, reason) => {
      this.sessions.disconnect({ client }, true, reason)
    }
    this.closing = new ClientClosing(
      {
        store,
        clients,
        disconnect: (client) => this.sessions.disconnect({ client }, true, 'the client closed'),
        lifecycle: clientLifecycle,
        metrics,
        logger,
        now,
      },
      closingSettings,
    )
    this.housekeeping = new Housekeeping(
      {
        store,
        followers,
        clients,
        cursors: this.cursors,
        retention,
        closing: this.closing,
        deleteStream: (name) => this.streams.delete(name),
        prune: () => this.admission.prune(),
        expired: (count) => metrics.streamsExpired.inc(count),
        lifecycle: clientLifecycle,
        metrics,
        logger,
        now,
      },
      settings,
    )
    const host: ClusterHost = {
      hubPosition: (stream) => {
        const hub = followers.get(stream)
        return hub === undefined ? undefined : { epoch: hub.epoch, head: hub.head }
      },
      followedStreams: () => [...followers.streams()],
      advance: (event) => followers.advance(event),
      forget: (stream) => this.sessions.streamGone(stream),
      deliverSignal: (stream, from, data) => {
        this.sessions.fanOutSignal(stream, from, data)
      },
      revoked: (user, stream) => this.sessions.revokedHere(user, stream),
      disconnect: (target, final) => {
        this.sessions.disconnectHere(target, final)
      },
    }
    this.#cluster =
      deps.bus === undefined
        ? undefined
        : new ClusterLink(
            deps.bus,
            store,
            host,
            this.presence,
            logger,
            { ...settings.cluster, fetchBytes: settings.delivery.windowBytes },
            metrics,
            now,
          )
  }

  /** Starts the periodic jobs and, with a bus, joins the other nodes. */
  start(): void {
    this.housekeeping.start()
    this.#cluster?.start()
  }

  /** Ends every session, commits everything pending (appends, then acks) and stops the jobs. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.sessions.closeAll()
    this.presence.close()
    await this.streams.close()
    await this.#cluster?.stop()
    await this.housekeeping.stop()
    await this.cursors.flush()
    await this.clients.flush()
  }
}
