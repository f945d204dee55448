import { Counter, Gauge, type Registry } from 'prom-client'

/** How one delivery attempt ended. */
export type WebhookAttemptResult = 'delivered' | 'failed' | 'given_up'

/** The webhook dispatcher's Prometheus instruments. */
export interface WebhookMetrics {
  /**
   * Delivery attempts by result: `delivered` (2xx), `failed` (retried later), `given_up` (failed
   * past the maximum age: the event is dropped — alert on this one).
   */
  readonly attempts: Counter<'result'>
  /** Events taken from the log and not yet delivered or given up. */
  readonly pending: Gauge
}

/**
 * Registers the webhook instruments in `registry` (the server's, so that they appear on
 * `/metrics`).
 *
 * @example
 * const metrics = createWebhookMetrics(server.metrics.registry)
 */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const registers = [registry]
  return {
    attempts: new Counter({
      name: 'seqline_webhook_attempts_total',
      help: 'Webhook delivery attempts by result (delivered, failed, given_up)',
      labelNames: ['result'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'seqline_webhook_pending',
      help: 'Webhook events being delivered or waiting for a retry',
      registers,
    }),
  }
}
