// The public API of @seqline/server. Anything not exported here is internal.

export { createServer } from './server.js'
export type { SeqlineServer, SeqlineServerOptions } from './server.js'

export { Engine, engineDefaults } from './engine/engine.js'
export type { CommitEvent, EngineOptions } from './engine/engine.js'

export { openStore } from './store/open-store.js'
export { SqliteStore } from './store/sqlite-store.js'
export type { SqliteStoreOptions } from './store/sqlite-store.js'
export { MemoryStore } from './store/memory-store.js'
export { PostgresStore, postgresStoreDefaults } from './store/postgres-store.js'
export type { PostgresStoreOptions } from './store/postgres-store.js'
export { publishInTransaction } from './store/publish-in-transaction.js'
export type { PublishInTransactionOptions } from './store/publish-in-transaction.js'
export type { SqlClient } from './store/postgres-append.js'

// Multi-node: the bus seam and its implementations.
export type { Bus, BusMessage } from './bus/bus.js'
export { LocalBus } from './bus/local-bus.js'
export { RedisBus, redisBusDefaults } from './bus/redis-bus.js'
export type { RedisBusOptions } from './bus/redis-bus.js'
export { PostgresBus, postgresBusDefaults } from './bus/postgres-bus.js'
export type { PostgresBusOptions } from './bus/postgres-bus.js'
export { openBus } from './bus/open-bus.js'
export { clusterLinkDefaults } from './engine/cluster-link.js'
export type { ClusterLinkOptions } from './engine/cluster-link.js'
export { JSON_CONTENT_TYPE } from './store/store.js'
export type {
  AppendRequest,
  AppendResult,
  ClientDeliveryQuery,
  ClientRecord,
  ClientStateCounts,
  ClientStreamDelivery,
  CreateStreamInput,
  CreateStreamResult,
  CursorRecord,
  FollowerPosition,
  NewClientRecord,
  ProducerRef,
  ProducerState,
  RetentionHolder,
  RetentionPolicy,
  Store,
  StoredMessage,
  StreamDelivery,
  StreamDeliveryQuery,
  StreamHead,
  StreamRecord,
  TrimRequest,
} from './store/store.js'

export { allowAll } from './auth/authenticator.js'
export type { Authenticate, Authorize, AuthorizeAction } from './auth/authenticator.js'
export { devAuthenticate } from './auth/dev-auth.js'
export { ANONYMOUS_USER, anonymousAuthenticate } from './auth/anonymous-auth.js'
export { durableStreamsDefaults } from './http/durable-streams/durable-streams-context.js'
export type { DurableStreamsOptions } from './http/durable-streams/durable-streams-context.js'
export { createJwtAuthenticate } from './auth/jwt-auth.js'
export type { JwtAuthOptions, JwtKeySource } from './auth/jwt-auth.js'
export { parseAuthOption } from './auth/parse-auth-option.js'

export { defaults, parseConfig } from './config.js'
export type { ServerConfig, ServerLimits } from './config.js'

export { createLogger } from './observability/logger.js'
export type { LogLevel, Logger, LoggerOptions } from './observability/logger.js'
export { createMetrics } from './observability/metrics.js'
export type { Metrics, PublishResult } from './observability/metrics.js'

export { ErrorCode, SeqlineError } from '@seqline/protocol'
