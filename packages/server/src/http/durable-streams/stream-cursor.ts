import { randomInt } from 'node:crypto'

// Durable Streams §10.1 "Server-Generated Cursors": live responses carry a cursor (the number of
// the current time interval) that clients echo as `cursor=`, so that CDN cache keys move on and
// an edge never serves the same empty long-poll forever.

/** How cursors are computed. */
export interface CursorOptions {
  /** Length of one cursor interval, seconds. */
  readonly intervalSeconds: number
  /** Start of interval 0, ms since the Unix epoch. */
  readonly epochMs: number
}

/** The protocol's defaults: 20 s intervals counted from 2024-10-09T00:00:00Z. */
export const cursorDefaults: CursorOptions = {
  intervalSeconds: 20,
  epochMs: Date.UTC(2024, 9, 9),
}

const MAX_JITTER_SECONDS = 3600

/**
 * The cursor of a live response. Never goes backwards: when the client's cursor is at or past the
 * current interval, the answer is strictly greater, by a random 1–3600 s jitter (§10.1 step 3).
 */
export function nextCursor(
  clientCursor: string | undefined,
  now: number,
  options: CursorOptions = cursorDefaults,
): string {
  const current = Math.floor((now - options.epochMs) / (options.intervalSeconds * 1000))
  const client =
    clientCursor !== undefined && /^\d{1,15}$/.test(clientCursor) ? Number(clientCursor) : undefined
  if (client === undefined || client < current) return String(current)
  const jitterSeconds = randomInt(1, MAX_JITTER_SECONDS + 1)
  return String(client + Math.max(1, Math.ceil(jitterSeconds / options.intervalSeconds)))
}
