import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  OPEN_PERMISSIONS,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.js'

// G1 + G4 over HTTP: an append acknowledged with 200 survives `kill -9`, and the producer's retry
// after the restart — same Producer-Id / Epoch / Seq — is recognised as a duplicate, not
// appended again: the producer state is committed in the same transaction as the append.

let server: ServerProcess
let n = 0
const auth = { Authorization: 'Bearer alice' }

function append(stream: string, seq: number, body: string): Promise<Response> {
  return fetch(`${server.url}/v1/stream/${stream}`, {
    method: 'POST',
    headers: {
      ...auth,
      'Content-Type': 'text/plain',
      'Producer-Id': 'writer-1',
      'Producer-Epoch': '0',
      'Producer-Seq': String(seq),
    },
    body,
  })
}

async function contents(stream: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/stream/${stream}?offset=-1`, { headers: auth })
  expect(res.status).toBe(200)
  return res.text()
}

async function createStream(): Promise<string> {
  const stream = `log:restart-${++n}`
  const res = await fetch(`${server.url}/v1/stream/${stream}`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'text/plain' },
  })
  expect(res.status).toBe(201)
  return stream
}

beforeAll(async () => {
  server = await startServerProcess({ args: ['--auth', 'dev', '--permissions', OPEN_PERMISSIONS] })
})
afterAll(() => server?.dispose())

describe('an HTTP producer retrying across kill -9', () => {
  it('gets 204 for the retry of an acknowledged append and the data stays single', async () => {
    const stream = await createStream()
    expect((await append(stream, 0, 'a;')).status).toBe(200)
    const acked = await append(stream, 1, 'b;')
    expect(acked.status).toBe(200)
    const offset = acked.headers.get('Stream-Next-Offset')

    await server.kill9()
    await server.restart()

    const retry = await append(stream, 1, 'b;')
    expect(retry.status).toBe(204)
    expect(retry.headers.get('Producer-Seq')).toBe('1')
    expect(retry.headers.get('Stream-Next-Offset')).toBe(offset)
    expect((await append(stream, 2, 'c;')).status).toBe(200)
    expect(await contents(stream)).toBe('a;b;c;')
  })

  it('writes each of many in-flight appends once when the server dies under them', async () => {
    const stream = await createStream()
    // 50 pipelined appends; the server is killed while they are in flight. Whatever was
    // committed is deduplicated on retry, whatever was not is appended now — once.
    const inFlight = Array.from({ length: 50 }, (_, seq) =>
      append(stream, seq, `${seq};`).then(
        (res) => res.status,
        () => 'lost' as const,
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 5))
    await server.kill9()
    await Promise.all(inFlight)
    await server.restart()

    // Retry everything in order, as a producer that does not know what landed would.
    const statuses: number[] = []
    for (let seq = 0; seq < 50; seq++) statuses.push((await append(stream, seq, `${seq};`)).status)
    expect(statuses.every((status) => status === 200 || status === 204)).toBe(true)
    const expected = Array.from({ length: 50 }, (_, seq) => `${seq};`).join('')
    expect(await contents(stream)).toBe(expected)
  })
})
