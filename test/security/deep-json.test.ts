import type { ErrorFrame, MsgFrame, NackFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, subscribeUntilCaughtUp } from '../support/wire-session.js'
import { type SecurityServer, errorOf, startSecurityServer } from './security-server.js'

// F7: one poisoned message broke history for everyone — a 12 KB JSON value nested 6,000 deep made
// `GET /v1/history/<stream>` answer 500 (re-serialising it overflowed the stack). Now both doors
// refuse JSON deeper than `--max-json-depth` (default 64) with PAYLOAD_TOO_DEEP, and reads splice
// stored JSON without parsing it, so even a deep message already in the store reads back.

/** `[[[…]]]` nested `depth` deep (2 bytes a level: 6,000 deep is 12 KB). */
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
/** `{"a":{"a":…{}}}` nested `depth` deep. */
const nestedObject = (depth: number): string =>
  '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1)

/** How deep a parsed value nests arrays (iteratively: no recursion on a hostile value). */
function arrayDepth(value: unknown): number {
  let depth = 0
  let at = value
  while (Array.isArray(at)) {
    depth += 1
    at = at[0]
  }
  return depth
}

describe('deep JSON at the doors (F7)', () => {
  let s: SecurityServer
  beforeAll(async () => {
    s = await startSecurityServer()
  })
  afterAll(() => s?.close())

  it('nacks a WebSocket publish deeper than the limit with PAYLOAD_TOO_DEEP and goes on', async () => {
    const { client } = await greet(s.wsUrl, { token: 'mallory' })
    const stream = 'room:deep-ws'
    const seq = 0
    for (const data of [nested(6_000), nested(65), nestedObject(65)]) {
      client.send(`{"t":"pub","stream":"${stream}","epoch":0,"seq":${seq},"data":${data}}`)
      expect(await client.next<NackFrame>('nack')).toMatchObject({
        code: 'PAYLOAD_TOO_DEEP',
        seq,
      })
    }
    client.send(`{"t":"signal","stream":"${stream}","data":${nested(6_000)}}`)
    expect(await client.next<ErrorFrame>('error')).toMatchObject({ code: 'PAYLOAD_TOO_DEEP' })
    // At the limit it is accepted; the refusals left no hole.
    client.send(`{"t":"pub","stream":"${stream}","epoch":0,"seq":${seq},"data":${nested(64)}}`)
    expect(await client.next<PubackFrame>('puback')).toMatchObject({ seq: 0, offset: 1 })
    await client.close()
  })

  it('refuses an HTTP append or initial body deeper than the limit with 400 PAYLOAD_TOO_DEEP', async () => {
    const stream = 'room:deep-http'
    for (const body of [nested(6_000), nested(65), `[${nested(64)}]`]) {
      const put = await s.as('mallory', `/v1/stream/${stream}`, { method: 'PUT', body })
      expect(await errorOf(put)).toMatchObject({ status: 400, code: 'PAYLOAD_TOO_DEEP' })
    }
    const json = { 'content-type': 'application/json' }
    const created = await s.as('mallory', `/v1/stream/${stream}`, { method: 'PUT', headers: json })
    expect(created.status).toBe(201)
    for (const body of [nested(6_000), nestedObject(65)]) {
      const post = await s.as('mallory', `/v1/stream/${stream}`, { method: 'POST', body })
      expect(await errorOf(post)).toMatchObject({ status: 400, code: 'PAYLOAD_TOO_DEEP' })
    }
    const history = await s.as('mallory', `/v1/history/${stream}`)
    expect(((await history.json()) as { messages: unknown[] }).messages).toEqual([])
  })
})

describe('deep JSON already stored (F7)', () => {
  let server: ServerProcess
  const stream = 'room:poisoned'

  beforeAll(async () => {
    // A server that allows deep values stores one through its HTTP door (a top-level array appends
    // its elements: the message is the value inside, 999 deep)…
    server = await startServerProcess({ args: ['--max-json-depth', '1000'] })
    const headers = { authorization: 'Bearer mallory', 'content-type': 'application/json' }
    const put = await fetch(`${server.url}/v1/stream/${stream}`, { method: 'PUT', headers })
    expect(put.status).toBe(201)
    for (const body of ['{"text":"before"}', nested(1_000)]) {
      const res = await fetch(`${server.url}/v1/stream/${stream}`, {
        method: 'POST',
        headers,
        body,
      })
      expect(res.status).toBe(204)
    }
    await server.stop()
    // … and a value nested 6,000 deep sits in the store, as written by a version without limit.
    const store = new SqliteStore({ path: server.dbPath })
    await store.init()
    const [appended] = await store.append([
      {
        stream,
        payloads: [Buffer.from(nested(6_000)), Buffer.from('{"text":"after"}')],
        from: 'mallory',
        contentType: 'application/json',
        now: Date.now(),
      },
    ])
    expect(appended?.kind).toBe('appended')
    await store.close()
    // The server comes back with the default limit (64).
    await server.restart()
  }, 60_000)
  afterAll(() => server?.dispose())

  it('reads the stream back through history without an error', async () => {
    const res = await fetch(`${server.url}/v1/history/${stream}`, {
      headers: { authorization: 'Bearer reader' },
    })
    expect(res.status).toBe(200)
    const { messages } = (await res.json()) as { messages: { offset: number; data: unknown }[] }
    expect(messages.map((m) => m.offset)).toEqual([1, 2, 3, 4])
    expect(messages.map((m) => arrayDepth(m.data))).toEqual([0, 999, 6_000, 0])
    expect(messages[3]?.data).toEqual({ text: 'after' })
  })

  it('reads it back through a Durable Streams catch-up and SSE', async () => {
    const catchUp = await fetch(`${server.url}/v1/stream/${stream}?offset=-1`, {
      headers: { authorization: 'Bearer reader' },
    })
    expect(catchUp.status).toBe(200)
    const values = (await catchUp.json()) as unknown[]
    expect(values.map(arrayDepth)).toEqual([0, 999, 6_000, 0])

    const abort = new AbortController()
    const sse = await fetch(`${server.url}/v1/stream/${stream}?offset=-1&live=sse`, {
      headers: { authorization: 'Bearer reader' },
      signal: abort.signal,
    })
    expect(sse.status).toBe(200)
    let text = ''
    const decoder = new TextDecoder()
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader()
    while (!text.includes('"upToDate":true')) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    abort.abort()
    const data = /event: data\ndata:(.*?)\n\n/s.exec(text)?.[1] ?? ''
    expect((JSON.parse(data) as unknown[]).map(arrayDepth)).toEqual([0, 999, 6_000, 0])
  })

  it('delivers it to a WebSocket subscriber, followed by the rest', async () => {
    const { client } = await greet(server.wsUrl, { token: 'reader' })
    const { msgs } = await subscribeUntilCaughtUp(client, stream, 'earliest')
    expect(msgs.map((m: MsgFrame) => [m.offset, arrayDepth(m.data)])).toEqual([
      [1, 0],
      [2, 999],
      [3, 6_000],
      [4, 0],
    ])
    await client.close()
  })
})
