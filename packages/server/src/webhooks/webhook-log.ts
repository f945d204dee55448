import type { WebhookEvent } from './webhook-event.js'

/** One event of a {@link WebhookLog} and its position in it. */
export interface WebhookLogEntry {
  readonly offset: number
  readonly event: WebhookEvent
}

/**
 * Where the webhook dispatcher reads events from: a durable, append-only log (the server keeps it
 * in an internal stream the engine appends events to, in the same store as the messages, so that
 * events survive a crash) and the dispatcher's cursor in it.
 *
 * Contract:
 * - offsets are positive integers that grow with every append (gaps allowed);
 * - `read(after, limit)` returns up to `limit` entries with offset > `after`, in offset order;
 * - `waitForMore(after, signal)` resolves once an entry with offset > `after` exists (at once if
 *   one does already), and resolves or rejects soon after `signal` aborts;
 * - `loadCursor()` returns what the last `saveCursor()` stored (0 at first): every entry at or
 *   below it was delivered or given up, so it is not sent again after a restart;
 * - `saveCursor(offset)` stores it durably; it is called with growing offsets only.
 *
 * A log may drop entries at or below the saved cursor.
 */
export interface WebhookLog {
  read(after: number, limit: number): Promise<WebhookLogEntry[]>
  waitForMore(after: number, signal: AbortSignal): Promise<void>
  loadCursor(): Promise<number>
  saveCursor(offset: number): Promise<void>
}
