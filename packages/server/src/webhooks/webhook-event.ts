import { createHash, randomBytes } from 'node:crypto'

// What Seqline tells the application's backend (docs/backends.md). Every delivery is one event:
//
//   POST <--webhook-url>                Content-Type: application/json
//   Seqline-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//   Seqline-Event-Id: evt_…             Seqline-Event-Type: unread
//   {"id": "evt_…", "type": "unread", "createdAt": "2026-01-01T12:00:00.000Z", "data": {...}}
//
// Delivery is at least once and in no particular order: the receiver deduplicates by `id` (the
// same on every retry of one event, different between events) and orders by `createdAt`.

/** The event types and their `type` strings. */
export const WebhookEventType = {
  /**
   * A user has had unacknowledged messages in a stream for longer than the unread delay while
   * none of their clients was connected: what a backend turns into an APNs / FCM push. Emitted
   * once per such episode, identified by (user, stream, firstUnreadOffset).
   */
  UNREAD: 'unread',
  /** A client (app install, browser tab) was registered for a user. */
  CLIENT_REGISTERED: 'client.registered',
  /** A client was removed: by the app (`DELETE /v1/clients/:id`) or unseen past its TTL. */
  CLIENT_FORGOTTEN: 'client.forgotten',
  /** A stream was deleted: by a request, or because its TTL / expiry passed. */
  STREAM_DELETED: 'stream.deleted',
} as const

export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType]

/** `data` of an `unread` event. */
export interface UnreadData {
  readonly user: string
  readonly stream: string
  /** Messages after the user's furthest ack in the stream, not sent by the user. */
  readonly unread: number
  /** Offset of the first of them. */
  readonly firstUnreadOffset: number
  /** When the first of them was committed, ISO 8601. */
  readonly since: string
}

/** `data` of a `client.registered` event. */
export interface ClientRegisteredData {
  readonly user: string
  readonly clientId: string
}

/** `data` of a `client.forgotten` event. */
export interface ClientForgottenData {
  readonly user: string
  readonly clientId: string
  /**
   * `forgotten`: removed by the app; `expired`: unseen past the client TTL; `closed`: its page
   * closed for good (closing notice) and it did not come back within the grace period.
   */
  readonly reason: 'forgotten' | 'expired' | 'closed'
}

/** `data` of a `stream.deleted` event. */
export interface StreamDeletedData {
  readonly stream: string
  /** `deleted`: by a request; `expired`: its TTL or expiry passed. */
  readonly reason: 'deleted' | 'expired'
}

/** What each event type carries. */
export interface WebhookEventData {
  readonly unread: UnreadData
  readonly 'client.registered': ClientRegisteredData
  readonly 'client.forgotten': ClientForgottenData
  readonly 'stream.deleted': StreamDeletedData
}

/** One event, exactly as it is sent (the JSON body of a delivery). */
export type WebhookEvent = {
  readonly [T in WebhookEventType]: {
    /** Unique per event, the same on every retry: the receiver's deduplication key. */
    readonly id: string
    readonly type: T
    /** When the event happened, ISO 8601. */
    readonly createdAt: string
    readonly data: WebhookEventData[T]
  }
}[WebhookEventType]

/**
 * A new event with a fresh id (or `id`, for an event whose id is derived from what it is about,
 * like {@link unreadEventId}). The id is chosen here, once, and stored with the event in the
 * webhook log, so that every retry carries the same one.
 *
 * @example
 * await log.append(createWebhookEvent('client.registered', { user: 'alice', clientId }))
 */
export function createWebhookEvent<T extends WebhookEventType>(
  type: T,
  data: WebhookEventData[T],
  now: number = Date.now(),
  id: string = `evt_${randomBytes(16).toString('base64url')}`,
): WebhookEvent {
  return {
    id,
    type,
    createdAt: new Date(now).toISOString(),
    data,
  } as WebhookEvent
}

/**
 * The id of the `unread` event of one episode — a user, a stream in one of its histories (epoch)
 * and the first unread offset — the same whichever node or run detects it: an episode detected
 * twice (two nodes, a restart) reaches the receiver as one event, deduplicated by id.
 *
 * @example
 * unreadEventId('alice', 'room:general', 'e_7Qk…', 42) // → 'evt_u…' (22 characters after "evt_")
 */
export function unreadEventId(user: string, stream: string, epoch: string, offset: number): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['unread', user, stream, epoch, offset]))
    .digest('base64url')
  return `evt_u${digest.slice(0, 21)}`
}
