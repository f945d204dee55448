import { afterEach, describe, expect, it } from 'vitest'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'

// `--keep-alive-timeout-ms`: how long the server keeps an idle HTTP keep-alive connection. A
// client that sends a request on a connection the server is closing gets "socket closed", so the
// server should outlast its clients and proxies (a load balancer's idle timeout is often 60 s);
// the timeout is announced in every response's `Keep-Alive: timeout=…`, which Node derives from
// the server's `keepAliveTimeout`.

let server: SeqlineServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(keepAliveTimeoutMs?: number): Promise<string> {
  server = await createServer({
    store: 'memory:',
    auth: 'dev',
    logLevel: 'silent',
    connections: { keepAliveTimeoutMs },
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return `http://127.0.0.1:${port}`
}

describe('HTTP keep-alive timeout', () => {
  it('announces the default of 5 s, and the configured timeout', async () => {
    const plain = await fetch(`${await start()}/healthz`)
    await plain.body?.cancel()
    expect(plain.headers.get('keep-alive')).toBe('timeout=5')
    await server?.close()
    const long = await fetch(`${await start(120_000)}/healthz`)
    await long.body?.cancel()
    expect(long.headers.get('keep-alive')).toBe('timeout=120')
  })
})
