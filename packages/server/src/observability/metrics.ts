import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** How a publish ended: committed, recognised as a retry, or refused. */
export type PublishResult = 'appended' | 'duplicate' | 'rejected'

/**
 * The server's Prometheus instruments, all registered in `registry` (one per server: several
 * servers can run in one process, e.g. in tests, without clashing on the global registry).
 */
export interface Metrics {
  readonly registry: Registry
  /** Open WebSocket connections. */
  readonly connections: Gauge
  /** Publishes by result. */
  readonly publishes: Counter<'result'>
  /** `msg` frames sent to subscribers (live and replay). */
  readonly deliveries: Counter
  /** Messages replayed per resumed subscription. */
  readonly replayLag: Histogram
  /** Duration of one group commit, in seconds. */
  readonly commitLatency: Histogram
  /** Publishes per group commit. */
  readonly commitBatchSize: Histogram
  /** `reset` frames sent, by reason. */
  readonly resets: Counter<'reason'>
  /** Signals fanned out. */
  readonly signals: Counter
  /** HTTP requests by method, route template and status. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  /** Bus messages received from other nodes, by kind (multi-node). */
  readonly busMessages: Counter<'kind'>
  /** Streams the heal job found behind the store: commits whose announcement was lost. */
  readonly clusterHeals: Counter
  /** Streams deleted by the expiry job (TTL or expiry time passed). */
  readonly streamsExpired: Counter
  /** Connections cut because they read too slowly (SLOW_CONSUMER). */
  readonly slowConsumers: Counter
  /**
   * Until-acked streams whose tail following clients hold back (some have not acked everything
   * retained), by where their policy comes from: the rule's pattern, `default` or `stream` — a
   * bounded label; who holds which stream is for the delivery-state API, not for labels.
   */
  readonly retentionHeldStreams: Gauge<'policy'>
  /** Messages those streams retain because a following client has not acked them. */
  readonly retentionHeldMessages: Gauge<'policy'>
  /** The most messages one following client is behind the head, over those streams. */
  readonly retentionMaxBehind: Gauge<'policy'>
  /** Messages the retention job trimmed, by policy source (as above). */
  readonly retentionTrimmed: Counter<'policy'>
  /**
   * Registered clients by state: `connected` (live on this node), and from the store, for the
   * whole deployment, `active`, `idle` (not seen for twice the GC interval) and `closing`.
   */
  readonly clients: Gauge<'state'>
  /** Clients forgotten, by reason: `forgotten` (deleted), `expired` (TTL), `closed` (tab closed). */
  readonly clientsForgotten: Counter<'reason'>
  /** Close proofs received (`POST /v1/clients/:id/closing`), by result. */
  readonly closeProofs: Counter<'result'>
  /** Producer states the expiry job deleted. */
  readonly producersExpired: Counter
}

/**
 * Creates a fresh registry with Seqline's instruments and the default Node.js process metrics.
 *
 * @example
 * const metrics = createMetrics()
 * metrics.publishes.inc({ result: 'appended' })
 * const text = await metrics.registry.metrics()
 */
export function createMetrics(): Metrics {
  const registry = new Registry()
  const registers = [registry]
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    connections: new Gauge({
      name: 'seqline_connections',
      help: 'Open connections (WebSocket and HTTP sessions)',
      registers,
    }),
    publishes: new Counter({
      name: 'seqline_publishes_total',
      help: 'Publishes by result (appended, duplicate, rejected)',
      labelNames: ['result'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'seqline_deliveries_total',
      help: 'Message frames sent to subscribers',
      registers,
    }),
    replayLag: new Histogram({
      name: 'seqline_replay_messages',
      help: 'Messages replayed per resumed subscription',
      buckets: [0, 1, 10, 100, 1_000, 10_000, 100_000],
      registers,
    }),
    commitLatency: new Histogram({
      name: 'seqline_commit_latency_seconds',
      help: 'Duration of one group commit',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    }),
    commitBatchSize: new Histogram({
      name: 'seqline_commit_batch_size',
      help: 'Publishes committed per group commit',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000],
      registers,
    }),
    resets: new Counter({
      name: 'seqline_resets_total',
      help: 'Reset frames sent, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    signals: new Counter({
      name: 'seqline_signals_total',
      help: 'Signals fanned out',
      registers,
    }),
    httpRequests: new Counter({
      name: 'seqline_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    busMessages: new Counter({
      name: 'seqline_bus_messages_total',
      help: 'Bus messages received from other nodes, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    clusterHeals: new Counter({
      name: 'seqline_cluster_heals_total',
      help: 'Streams found behind the store by the heal job (lost bus announcements)',
      registers,
    }),
    streamsExpired: new Counter({
      name: 'seqline_streams_expired_total',
      help: 'Streams deleted by the expiry job',
      registers,
    }),
    slowConsumers: new Counter({
      name: 'seqline_slow_consumers_total',
      help: 'Connections cut because they read too slowly',
      registers,
    }),
    retentionHeldStreams: new Gauge({
      name: 'seqline_retention_held_streams',
      help: 'Until-acked streams whose tail unacked following clients hold back, by policy source',
      labelNames: ['policy'] as const,
      registers,
    }),
    retentionHeldMessages: new Gauge({
      name: 'seqline_retention_held_messages',
      help: 'Messages until-acked streams retain because a following client has not acked them',
      labelNames: ['policy'] as const,
      registers,
    }),
    retentionMaxBehind: new Gauge({
      name: 'seqline_retention_max_behind_messages',
      help: 'The most messages one following client of an until-acked stream is behind its head',
      labelNames: ['policy'] as const,
      registers,
    }),
    retentionTrimmed: new Counter({
      name: 'seqline_retention_trimmed_messages_total',
      help: 'Messages trimmed by the retention job, by policy source',
      labelNames: ['policy'] as const,
      registers,
    }),
    clients: new Gauge({
      name: 'seqline_clients',
      help: 'Registered clients by state: connected (this node), active, idle, closing (all nodes)',
      labelNames: ['state'] as const,
      registers,
    }),
    clientsForgotten: new Counter({
      name: 'seqline_clients_forgotten_total',
      help: 'Clients forgotten, by reason (forgotten, expired, closed)',
      labelNames: ['reason'] as const,
      registers,
    }),
    closeProofs: new Counter({
      name: 'seqline_close_proofs_total',
      help: 'Close proofs of closing tabs received, by result (accepted, stale, invalid)',
      labelNames: ['result'] as const,
      registers,
    }),
    producersExpired: new Counter({
      name: 'seqline_producers_expired_total',
      help: 'Producer states deleted by the expiry job',
      registers,
    }),
  }
}
