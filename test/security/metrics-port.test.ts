import { type AddressInfo, createServer as createTcpServer } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'

// F13: `/metrics` tells anyone who can reach it how busy each door is, how many connections
// are open and how the store performs. With `--metrics-port` it is served there only — on
// `--metrics-host`, loopback by default — and the main port answers 404.

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createTcpServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** An IPv4 address of this machine other than loopback, if it has one. */
function externalAddress(): string | undefined {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv4' && !entry.internal) return entry.address
    }
  }
  return undefined
}

describe('metrics on their own port (F13)', () => {
  let server: ServerProcess
  let metricsPort: number

  beforeAll(async () => {
    metricsPort = await freePort()
    server = await startServerProcess({ args: ['--metrics-port', String(metricsPort)] })
  })
  afterAll(() => server?.dispose())

  it('answers 404 for /metrics on the main port', async () => {
    const res = await fetch(`${server.url}/metrics`)
    expect(res.status).toBe(404)
    expect(await res.text()).not.toContain('seqline_')
  })

  it('serves /metrics, and nothing else, on the metrics port', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('seqline_connections')
    for (const path of ['/healthz', '/v1/history/room:a', '/']) {
      const other = await fetch(`http://127.0.0.1:${metricsPort}${path}`, {
        headers: { authorization: 'Bearer alice' },
      })
      expect(other.status, path).toBe(404)
      await other.body?.cancel()
    }
  })

  it.runIf(externalAddress() !== undefined)(
    'listens for metrics on loopback only by default',
    async () => {
      const refused = await fetch(`http://${externalAddress()}:${metricsPort}/metrics`).then(
        () => undefined,
        (err: unknown) => err as Error,
      )
      expect(refused).toBeInstanceOf(Error)
    },
  )
})
