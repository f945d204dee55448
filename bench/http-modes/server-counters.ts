// What bench/http-modes counts from outside the server: its open TCP connections (the kernel's
// socket tables) and the HTTP requests it completed (its Prometheus metrics).
import { readFileSync } from 'node:fs'
import { request } from 'node:http'

/**
 * ESTABLISHED TCP connections whose local port is `port`, in the text of `/proc/net/tcp` or
 * `/proc/net/tcp6`: the server's side of each accepted connection (on loopback both ends are
 * listed; the client's end has an ephemeral local port and is not counted).
 */
export function establishedOnPort(table: string, port: number): number {
  let count = 0
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    const local = fields[1]
    const state = fields[3]
    if (local === undefined || state !== '01') continue
    if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) count += 1
  }
  return count
}

/** The server's open TCP connections on `port` now (Linux; NaN elsewhere). */
export function serverConnections(port: number): number {
  try {
    let count = 0
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      try {
        count += establishedOnPort(readFileSync(file, 'utf8'), port)
      } catch {
        // No IPv6 table.
      }
    }
    return count
  } catch {
    return Number.NaN
  }
}

/**
 * `seqline_http_requests_total` of a Prometheus text exposition, summed by route and method
 * (`"POST /v1/sessions/:id/frames"`), all statuses together.
 */
export function httpRequestsByRoute(exposition: string): Record<string, number> {
  const byRoute: Record<string, number> = {}
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('seqline_http_requests_total{')) continue
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'))
    const method = /method="([^"]*)"/.exec(labels)?.[1] ?? '?'
    const route = /route="([^"]*)"/.exec(labels)?.[1] ?? '?'
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    const key = `${method} ${route}`
    byRoute[key] = (byRoute[key] ?? 0) + value
  }
  return byRoute
}

/** Per route: `after − before` (routes absent before count from 0); zero differences left out. */
export function requestsBetween(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
): Record<string, number> {
  const delta: Record<string, number> = {}
  for (const [route, n] of Object.entries(after)) {
    const d = n - (before[route] ?? 0)
    if (d !== 0) delta[route] = d
  }
  return delta
}

/** Requests of the session routes (`/v1/sessions…`): what the clients made, not the scrapes. */
export function sessionRequests(byRoute: Readonly<Record<string, number>>): number {
  let total = 0
  for (const [key, n] of Object.entries(byRoute)) if (key.includes(' /v1/sessions')) total += n
  return total
}

/** Reads the server's `/metrics` over a connection of its own (closed after, never pooled). */
export function scrapeRequests(port: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', agent: false, headers: { Connection: 'close' } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve(httpRequestsByRoute(text)))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
