import type { Server as HttpServer, ServerResponse } from 'node:http'

/** What a graceful shutdown stops, in order. */
export interface ShutdownSteps {
  /** The HTTP server, when the Seqline server created it (listen), else undefined (attach). */
  readonly ownedServer: HttpServer | undefined
  /** Tells every live connection to go away (goaway + close). */
  readonly goAway: () => Promise<void>
  /** Responses in flight (long-polls, SSE, appends being committed). */
  readonly inFlight: ReadonlySet<ServerResponse>
  readonly drainMs: number
  /** Detaches Seqline's request handler from an attached server. */
  readonly detach: () => void
  /** Commits what is pending and releases the store and bus. */
  readonly release: () => Promise<void>
}

/**
 * Graceful shutdown (SIGTERM, `close()`): stop accepting, send every socket `goaway` with a
 * jittered reconnect hint, let in-flight requests finish within a bound, then commit everything
 * pending — every acknowledged publish is durable (G1) — and release the store.
 */
export async function gracefulShutdown(steps: ShutdownSteps): Promise<void> {
  const server = steps.ownedServer
  // 1. Stop accepting: no new connections (when the server is ours) and no new WebSockets.
  const httpClosed =
    server === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) => server.close(() => resolve()))
  server?.closeIdleConnections()
  // 2. Tell every socket to go away, with a jittered reconnect hint.
  await steps.goAway()
  // 3. Let in-flight requests finish (an ack or a publish being committed), within a bound.
  await drain(steps.inFlight, steps.drainMs)
  server?.closeAllConnections()
  steps.detach()
  // 4. Commit what is pending, then release the store.
  await steps.release()
  await httpClosed
}

/** Resolves when every response in `inFlight` has closed, or after `timeoutMs`. */
async function drain(inFlight: ReadonlySet<ServerResponse>, timeoutMs: number): Promise<void> {
  if (inFlight.size === 0) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    timer.unref()
    let pending = inFlight.size
    for (const res of inFlight) {
      res.once('close', () => {
        if (--pending === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}
