export { createClient, SeqlineClient } from './seqline-client.js'
export type { ClientEvents } from './seqline-client.js'
export { defaults } from './client-options.js'
export type { ClientOptions } from './client-options.js'
export type {
  ConnectionState,
  ConnectionStateKind,
  StateChange,
  TransportName,
} from './connection-state.js'
export { StreamHandle } from './stream-handle.js'
export type { PresenceEvent, SignalEvent, StreamEvents, Subscription } from './stream-handle.js'
export type {
  ResetEvent,
  ResetInfo,
  SnapshotResult,
  SubscribeOptions,
  SubscribedEvent,
} from './stream-subscription.js'
export type { PublishOutcome, PublishResult } from './outbox.js'
export { ClientError, ClientErrorCode } from './client-error.js'
export type { Disposer } from './emitter.js'
export type { Storage } from './storage/storage.js'
export { MemoryStorage } from './storage/memory-storage.js'
export { FileStorage } from './storage/file-storage.js'
export { IndexedDbStorage } from './storage/indexeddb-storage.js'
export { SessionStorageStorage, browserStorage } from './storage/session-identity.js'
export { ABNORMAL_CLOSURE } from './transport.js'
export type {
  Transport,
  TransportCloseInfo,
  TransportHandlers,
  TransportLink,
} from './transport.js'
export { webSocketTransport, webSocketUrl } from './websocket-transport.js'
export { fallbackTransport } from './fallback-transport.js'
export type { FallbackOptions } from './fallback-transport.js'
export { offsetToPosition, positionToOffset, sameEpoch } from './offset-token.js'
export type {
  WebSocketConstructor,
  WebSocketLike,
  WebSocketTransportOptions,
} from './websocket-transport.js'
export type { Environment, EnvironmentHooks } from './environment.js'
export { browserEnvironment } from './environment.js'
export type { Clock, TimerHandle } from './clock.js'
export { systemClock } from './clock.js'
export type { BackoffOptions } from './backoff.js'
export { backoffDelay } from './backoff.js'
export { CloseCode, ErrorCode, SeqlineError } from '@seqline/protocol'
export type { Message, Position, PresenceCount, PresenceEntry, StartFrom } from '@seqline/protocol'
