// The public API of @seqline/server. Anything not exported here is internal.

export { createServer } from './server.js'
export type { PublishOptions, SeqlineServer, SeqlineServerOptions } from './server.js'
export type { PresencePage } from './engine/presence/presence.js'
export type { PresenceMode, PresenceRule } from './engine/presence/presence-rules.js'
export type { RetentionRule } from './engine/retention-rules.js'

// Settings: every option of createServer and `seqline serve`, with their defaults.
export { defaults, parseCommandLine, resolveSettings } from './settings/resolve-settings.js'
export type { ServerSettings, ServerSettingsInput } from './settings/server-settings.js'

// The persistence seam and its implementations.
export { openStore } from './store/open-store.js'
export { SqliteStore } from './store/sqlite-store.js'
export type { SqliteStoreOptions } from './store/sqlite-store.js'
export { MemoryStore } from './store/memory-store.js'
export { PostgresStore, postgresStoreDefaults } from './store/postgres-store.js'
export type { PostgresStoreOptions } from './store/postgres-store.js'
export { publishInTransaction } from './store/publish-in-transaction.js'
export type { PublishInTransactionOptions } from './store/publish-in-transaction.js'
export type { SqlClient } from './store/postgres-append.js'
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
  JsonArrayChunk,
  NewClientRecord,
  ProducerRef,
  ProducerState,
  RetentionHolder,
  RetentionPolicy,
  StoredMessage,
  Store,
  StreamDelivery,
  StreamDeliveryQuery,
  StreamFork,
  StreamHead,
  StreamRecord,
  TrimRequest,
  UnreadEpisode,
  UnreadQuery,
} from './store/store.js'

// Multi-node: the bus seam and its implementations.
export type { Bus, BusMessage } from './bus/bus.js'
export { LocalBus } from './bus/local-bus.js'
export { RedisBus, redisBusDefaults } from './bus/redis-bus.js'
export type { RedisBusOptions } from './bus/redis-bus.js'
export { PostgresBus, postgresBusDefaults } from './bus/postgres-bus.js'
export type { PostgresBusOptions } from './bus/postgres-bus.js'
export { openBus } from './bus/open-bus.js'

// Auth hooks.
export { allowAll, defaultAuthorize } from './auth/authenticator.js'
export type {
  Authenticate,
  Authorize,
  AuthorizeAction,
  AuthorizeContext,
  Principal,
} from './auth/authenticator.js'
export { USER_ID_PATTERN, isValidUserId } from './auth/user-id.js'
export { devAuthenticate } from './auth/dev-auth.js'
export { ANONYMOUS_USER, anonymousAuthenticate } from './auth/anonymous-auth.js'
export { createJwtAuthenticate } from './auth/jwt-auth.js'
export type { JwtAuthOptions, JwtKeySource } from './auth/jwt-auth.js'
export { parseAuthOption } from './auth/parse-auth-option.js'
export type { AuthOptionOrigin, ParseAuthOptions } from './auth/parse-auth-option.js'
export {
  compilePermissions,
  loadPermissionsFile,
} from './auth/permissions/permissions-authorize.js'
export type { Permissions } from './auth/permissions/permissions-authorize.js'
export { PermissionsFileError } from './auth/permissions/permissions-file-error.js'
export type { PermissionsIssue } from './auth/permissions/permissions-file-error.js'
export { createAuthorizeCallback } from './auth/callback/authorize-callback.js'
export type { AuthorizeCallbackOptions } from './auth/callback/authorize-callback.js'
// Verifying what Seqline signs (authorize callback, webhooks) from a Node backend.
export { SIGNATURE_HEADER, signBody, verifySignature } from './auth/hmac-signature.js'
export type { VerifySignatureOptions } from './auth/hmac-signature.js'
export { WebhookEventType } from './webhooks/webhook-event.js'
export type {
  ClientForgottenData,
  ClientRegisteredData,
  StreamDeletedData,
  UnreadData,
  WebhookEvent,
  WebhookEventData,
} from './webhooks/webhook-event.js'

export { createLogger } from './observability/logger.js'
export type { LogLevel, Logger, LoggerOptions } from './observability/logger.js'
export { createMetrics } from './observability/metrics.js'
export type { Metrics, PublishResult } from './observability/metrics.js'

export { ErrorCode, SeqlineError } from '@seqline/protocol'
