import type { WebhookEvent } from './webhook-event.js'
import type { WebhookLog, WebhookLogEntry } from './webhook-log.js'

/**
 * A {@link WebhookLog} in memory: for tests, and for servers that accept losing undelivered
 * events on a restart (it is not durable). Drops entries once the cursor passed them.
 *
 * @example
 * const log = new MemoryWebhookLog()
 * log.append(createWebhookEvent('stream.deleted', { stream: 'room:x', reason: 'deleted' }))
 */
export class MemoryWebhookLog implements WebhookLog {
  #entries: WebhookLogEntry[] = []
  #head = 0
  #cursor = 0
  readonly #waiters = new Set<() => void>()

  /** Appends an event and returns its offset. */
  append(event: WebhookEvent): number {
    this.#head += 1
    this.#entries.push({ offset: this.#head, event })
    for (const wake of [...this.#waiters]) wake()
    return this.#head
  }

  /** Offset of the last appended event (0 before any). */
  get head(): number {
    return this.#head
  }

  async read(after: number, limit: number): Promise<WebhookLogEntry[]> {
    const out: WebhookLogEntry[] = []
    for (const entry of this.#entries) {
      if (out.length >= limit) break
      if (entry.offset > after) out.push(entry)
    }
    return out
  }

  waitForMore(after: number, signal: AbortSignal): Promise<void> {
    if (this.#head > after || signal.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        if (this.#head <= after && !signal.aborted) return
        this.#waiters.delete(wake)
        signal.removeEventListener('abort', wake)
        resolve()
      }
      this.#waiters.add(wake)
      signal.addEventListener('abort', wake, { once: true })
    })
  }

  async loadCursor(): Promise<number> {
    return this.#cursor
  }

  async saveCursor(offset: number): Promise<void> {
    this.#cursor = offset
    this.#entries = this.#entries.filter((e) => e.offset > offset)
  }
}
