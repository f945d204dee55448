import type { Metrics } from '../observability/metrics.js'
import type { EngineLifecycle } from './engine-lifecycle.js'

/**
 * The engine's lifecycle reports, counted (`seqline_clients_forgotten_total{reason}`) and passed
 * on to `inner` (the webhook log), if any: every part that forgets a client — its user's DELETE,
 * the client GC, the closing job — reports it once, so counting here counts each once.
 */
export function countedLifecycle(
  inner: EngineLifecycle | undefined,
  metrics: Pick<Metrics, 'clientsForgotten'>,
): EngineLifecycle {
  return {
    clientRegistered: async (user, clientId) => {
      await inner?.clientRegistered(user, clientId)
    },
    clientForgotten: async (user, clientId, reason) => {
      metrics.clientsForgotten.inc({ reason })
      await inner?.clientForgotten(user, clientId, reason)
    },
    streamDeleted: async (stream, reason) => {
      await inner?.streamDeleted(stream, reason)
    },
  }
}
