import type { Metrics } from '../../observability/metrics.js'
import { sendJson } from '../json-error.js'
import type { Route } from '../route.js'

/**
 * `GET /healthz` (503 once shutdown began, so balancers drain the node) and, unless they are
 * served on their own port, `GET /metrics` (Prometheus text).
 */
export function healthRoutes(options: {
  readonly metrics: Metrics
  readonly shuttingDown: () => boolean
  readonly serveMetrics: boolean
}): Route[] {
  const routes: Route[] = [
    {
      methods: ['GET', 'HEAD'],
      path: '/healthz',
      auth: 'none',
      handle: async ({ res }) => {
        if (options.shuttingDown()) sendJson(res, 503, { status: 'shutting-down' })
        else sendJson(res, 200, { status: 'ok' })
      },
    },
  ]
  if (options.serveMetrics) routes.push(metricsRoute(options.metrics))
  return routes
}

/** `GET /metrics`: the Prometheus text of the server's registry. */
export function metricsRoute(metrics: Metrics): Route {
  return {
    methods: ['GET', 'HEAD'],
    path: '/metrics',
    auth: 'none',
    handle: async ({ res, method }) => {
      const text = await metrics.registry.metrics()
      res.statusCode = 200
      res.setHeader('Content-Type', metrics.registry.contentType)
      res.setHeader('Cache-Control', 'no-store')
      res.end(method === 'HEAD' ? undefined : text)
    },
  }
}
