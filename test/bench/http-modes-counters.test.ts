import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  establishedOnPort,
  httpRequestsByRoute,
  requestsBetween,
  serverConnections,
  sessionRequests,
} from '../../bench/http-modes/server-counters.js'

// What bench/http-modes counts from outside the server: its open TCP connections and the HTTP
// requests of its metrics.

let server: Server | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await new Promise((resolve) =>
    server === undefined ? resolve(undefined) : server.close(resolve),
  )
  server = undefined
})

describe('server connections', () => {
  it('counts the server side of each established loopback connection, not the client side', async () => {
    const accepted: Socket[] = []
    server = createServer((s) => accepted.push(s))
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    for (let i = 0; i < 3; i++) sockets.push(connect(port, '127.0.0.1'))
    await vi.waitFor(() => expect(accepted).toHaveLength(3), { timeout: 10_000 })
    await vi.waitFor(() => expect(serverConnections(port)).toBe(3), { timeout: 10_000 })
    sockets.pop()!.destroy()
    await vi.waitFor(() => expect(serverConnections(port)).toBe(2), { timeout: 10_000 })
  })

  it('reads only ESTABLISHED rows of the local port', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1',
      '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2',
      '   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 3',
      '   3: 0100007F:1F90 0100007F:C351 06 00000000:00000000 00:00000000 00000000  1000        0 4',
    ].join('\n')
    expect(establishedOnPort(table, 8080)).toBe(1)
    expect(establishedOnPort(table, 50000)).toBe(1)
    expect(establishedOnPort(table, 9090)).toBe(0)
  })
})

describe('HTTP requests from the metrics', () => {
  const before = [
    '# HELP seqline_http_requests_total HTTP requests by method, route and status',
    '# TYPE seqline_http_requests_total counter',
    'seqline_http_requests_total{method="GET",route="/v1/sessions/:id/events",status="200"} 10',
    'seqline_http_requests_total{method="POST",route="/v1/sessions/:id/frames",status="204"} 4',
    'seqline_http_requests_total{method="GET",route="/metrics",status="200"} 1',
    'seqline_deliveries_total 99',
  ].join('\n')
  const after = [
    'seqline_http_requests_total{method="GET",route="/v1/sessions/:id/events",status="200"} 25',
    'seqline_http_requests_total{method="GET",route="/v1/sessions/:id/events",status="404"} 2',
    'seqline_http_requests_total{method="POST",route="/v1/sessions/:id/frames",status="204"} 4',
    'seqline_http_requests_total{method="POST",route="/v1/sessions",status="201"} 3',
    'seqline_http_requests_total{method="GET",route="/metrics",status="200"} 2',
  ].join('\n')

  it('sums by method and route over statuses, and differences two scrapes', () => {
    expect(httpRequestsByRoute(before)).toEqual({
      'GET /v1/sessions/:id/events': 10,
      'POST /v1/sessions/:id/frames': 4,
      'GET /metrics': 1,
    })
    const delta = requestsBetween(httpRequestsByRoute(before), httpRequestsByRoute(after))
    expect(delta).toEqual({
      'GET /v1/sessions/:id/events': 17,
      'POST /v1/sessions': 3,
      'GET /metrics': 1,
    })
    expect(sessionRequests(delta)).toBe(20)
  })
})
