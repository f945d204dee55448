/**
 * Asynchronous key-value storage for the client's durable state: identity, stream positions, the
 * outbox. Values are JSON-compatible. Implementations: {@link MemoryStorage}, {@link FileStorage}
 * (Node), {@link IndexedDbStorage} and {@link browserStorage} (browsers).
 */
export interface Storage {
  get<T>(key: string): Promise<T | undefined>
  set(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<void>
  /** Every key starting with `prefix`, in no particular order. */
  keys(prefix: string): Promise<string[]>
}
