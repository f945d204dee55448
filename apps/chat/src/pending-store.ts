/** A message the user sent that is not yet in the conversation's log (as far as this tab saw). */
export interface PendingMessage {
  readonly cid: string
  readonly stream: string
  readonly text: string
  readonly createdAt: number
  /** `pending`: in the outbox; `sent`: committed (puback), not yet back through the stream. */
  readonly state: 'pending' | 'sent' | 'failed'
  readonly error?: string
}

const NONE: readonly PendingMessage[] = []

/**
 * The composer's side of the outbox, per tab in `sessionStorage`: the SDK's outbox (IndexedDB)
 * keeps and re-sends the publishes themselves, this keeps what to *show* for them until each comes
 * back through the stream, so a reload mid-send still shows them as pending. Written
 * synchronously, before the publish, so it never misses one.
 */
export class PendingStore {
  readonly #key: string
  #items: readonly PendingMessage[]
  readonly #listeners = new Set<() => void>()

  constructor(key: string) {
    this.#key = key
    this.#items = load(key)
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  readonly all = (): readonly PendingMessage[] => this.#items

  add(item: PendingMessage): void {
    this.#write([...this.#items, item])
  }

  update(cid: string, patch: Partial<PendingMessage>): void {
    if (!this.#items.some((i) => i.cid === cid)) return
    this.#write(this.#items.map((i) => (i.cid === cid ? { ...i, ...patch } : i)))
  }

  /** Forgets the ones that came back through their stream. */
  settle(cids: ReadonlySet<string>): void {
    if (!this.#items.some((i) => cids.has(i.cid))) return
    this.#write(this.#items.filter((i) => !cids.has(i.cid)))
  }

  #write(items: readonly PendingMessage[]): void {
    this.#items = items.length === 0 ? NONE : items
    try {
      sessionStorage.setItem(this.#key, JSON.stringify(items))
    } catch {
      // Storage full or disabled: the messages are still in the SDK's outbox; only the display
      // after a reload is affected.
    }
    for (const listener of [...this.#listeners]) listener()
  }
}

function load(key: string): readonly PendingMessage[] {
  try {
    const text = sessionStorage.getItem(key)
    const items = text === null ? [] : (JSON.parse(text) as PendingMessage[])
    return items.length === 0 ? NONE : items
  } catch {
    return NONE
  }
}
