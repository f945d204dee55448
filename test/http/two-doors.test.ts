import type { CaughtUpFrame, MsgFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  encodeOffset,
  parseOffset,
} from '../../packages/server/src/http/durable-streams/offset-token.js'
import { watchFrames, waitUntil } from '../support/frame-watch.js'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'
import { greet } from '../support/wire-session.js'

// DESIGN §6 "one stream, two doors": the Durable Streams HTTP protocol and the WebSocket protocol
// work on the same streams, in the same order, at the same offsets; HTTP reads return the bytes
// as appended, whoever appended them.

const auth = { Authorization: 'Bearer alice' }
const json = { ...auth, 'Content-Type': 'application/json' }

let s: InProcessServer
let n = 0
const streamUrl = (name: string): string => `${s.url}/v1/stream/${name}`
const uniqueName = (): string => `room:doors-${++n}`

/** The engine position a `Stream-Next-Offset` token names. */
function positionOf(token: string | null): { epoch: string; offset: number } {
  const parsed = parseOffset(token ?? '')
  if (parsed?.kind !== 'position') throw new Error(`not a position token: ${token}`)
  return { epoch: parsed.epoch.replace(/^0+(?=.{10}$)/, ''), offset: parsed.offset }
}

async function subscribe(stream: string) {
  const { client } = await greet(s.wsUrl, { token: 'bob' })
  const messages: MsgFrame[] = []
  watchFrames(client, (f) => f.t === 'msg' && f.stream === stream && messages.push(f))
  client.send({ t: 'sub', stream, from: 'earliest' })
  await client.next<CaughtUpFrame>((f) => f.t === 'caughtUp' && f.stream === stream)
  return { client, messages }
}

beforeAll(async () => {
  s = await startInProcessServer()
})
afterAll(() => s?.close())

describe('HTTP append → WebSocket subscriber', () => {
  it('delivers each flattened JSON element live, at the offsets the HTTP reply names', async () => {
    const stream = uniqueName()
    expect((await fetch(streamUrl(stream), { method: 'PUT', headers: json })).status).toBe(201)
    const { client, messages } = await subscribe(stream)

    const res = await fetch(streamUrl(stream), {
      method: 'POST',
      headers: json,
      body: '[{"text":"one"}, {"text":"two","n":12345678901234567890}]',
    })
    expect(res.status).toBe(204)
    await waitUntil(client, () => messages.length === 2, { what: '2 messages' })

    const position = positionOf(res.headers.get('Stream-Next-Offset'))
    expect(messages.map((m) => m.offset)).toEqual([1, 2])
    expect(messages.every((m) => m.epoch === position.epoch)).toBe(true)
    expect(position.offset).toBe(2)
    expect(messages.map((m) => m.from)).toEqual(['alice', 'alice'])
    expect(messages[0]?.data).toEqual({ text: 'one' })
    // HTTP reads return each element's own text: a number past 2^53 keeps all its digits.
    const read = await fetch(`${streamUrl(stream)}?offset=-1`, { headers: auth })
    expect(await read.text()).toBe('[{"text":"one"},{"text":"two","n":12345678901234567890}]')
    client.destroy()
  })

  it('delivers a text stream append as the UTF-8 text it was', async () => {
    const stream = uniqueName()
    await fetch(streamUrl(stream), {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'text/plain' },
    })
    const { client, messages } = await subscribe(stream)
    await fetch(streamUrl(stream), {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'text/plain' },
      body: 'héllo\nwörld',
    })
    await waitUntil(client, () => messages.length === 1, { what: '1 message' })
    expect(messages[0]?.data).toBe('héllo\nwörld')
    client.destroy()
  })
})

describe('WebSocket publish → HTTP reader', () => {
  it('reads a WebSocket publish byte-exact at the offset of its puback', async () => {
    const stream = uniqueName()
    const { client } = await greet(s.wsUrl, { token: 'bob' })
    client.send({ t: 'pub', stream, epoch: 0, seq: 0, data: { text: 'hi', list: [1, 2] } })
    const puback = await client.next<PubackFrame>('puback')

    const res = await fetch(`${streamUrl(stream)}?offset=-1`, { headers: auth })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('[{"text":"hi","list":[1,2]}]')
    expect(res.headers.get('Stream-Next-Offset')).toBe(encodeOffset(puback.epoch, puback.offset))
    client.destroy()
  })

  it('wakes a long-poll and an SSE reader with a WebSocket publish', async () => {
    const stream = uniqueName()
    const { client } = await greet(s.wsUrl, { token: 'bob' })
    client.send({ t: 'pub', stream, epoch: 0, seq: 0, data: 'first' })
    const first = await client.next<PubackFrame>('puback')
    const tail = encodeOffset(first.epoch, first.offset)

    const longPoll = fetch(`${streamUrl(stream)}?offset=${tail}&live=long-poll`, { headers: auth })
    const sse = await fetch(`${streamUrl(stream)}?offset=${tail}&live=sse`, { headers: auth })
    const reader = sse.body?.getReader()
    client.send({ t: 'pub', stream, epoch: 0, seq: 1, data: 'second' })

    const polled = await longPoll
    expect(polled.status).toBe(200)
    expect(await polled.json()).toEqual(['second'])
    expect(positionOf(polled.headers.get('Stream-Next-Offset')).offset).toBe(2)

    let text = ''
    while (!text.includes('"second"')) {
      const chunk = await reader?.read()
      if (chunk === undefined || chunk.done) break
      text += new TextDecoder().decode(chunk.value)
    }
    expect(text).toContain('event: data\ndata:["second"]')
    await reader?.cancel()
    client.destroy()
  })
})

describe('mixed producers', () => {
  it('gives both doors the same messages in the same order at the same offsets', async () => {
    const stream = uniqueName()
    await fetch(streamUrl(stream), { method: 'PUT', headers: json })
    const watcher = await subscribe(stream)
    const { client: publisher } = await greet(s.wsUrl, { token: 'carol' })
    const acks: PubackFrame[] = []
    watchFrames(publisher, (f) => f.t === 'puback' && acks.push(f))

    // 30 WebSocket publishes and 30 idempotent HTTP appends (10 producers × 3), interleaved.
    const http: Promise<Response>[] = []
    for (let i = 0; i < 30; i++) {
      publisher.send({ t: 'pub', stream, epoch: 0, seq: i, data: { door: 'ws', i } })
      const producer = i % 10
      const seq = Math.floor(i / 10)
      http.push(
        fetch(streamUrl(stream), {
          method: 'POST',
          headers: {
            ...json,
            'Producer-Id': `p${producer}`,
            'Producer-Epoch': '0',
            'Producer-Seq': String(seq),
          },
          body: JSON.stringify({ door: 'http', producer, seq }),
        }),
      )
      // Producers must send their seqs in order (§5.2.1): wait for the round before the next.
      if (producer === 9) await Promise.all(http.slice(-10))
    }
    const replies = await Promise.all(http)
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200))
    await waitUntil(publisher, () => acks.length === 30, { what: '30 pubacks' })
    await waitUntil(watcher.client, () => watcher.messages.length === 60, { what: '60 messages' })

    const read = await fetch(`${streamUrl(stream)}?offset=-1`, { headers: auth })
    const values = (await read.json()) as unknown[]
    expect(values).toEqual(watcher.messages.map((m) => m.data))
    expect(watcher.messages.map((m) => m.offset)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    )
    // Every reply's offset names the message it wrote, in both doors.
    for (const reply of replies) {
      const { offset } = positionOf(reply.headers.get('Stream-Next-Offset'))
      expect(watcher.messages[offset - 1]?.data).toMatchObject({ door: 'http' })
    }
    for (const ack of acks) {
      expect(watcher.messages[ack.offset - 1]?.data).toEqual({ door: 'ws', i: ack.seq })
    }
    watcher.client.destroy()
    publisher.destroy()
  })

  // Client ids are visible to every reader (`msg` frames), so anyone may send one as their
  // `Producer-Id`. Over HTTP it names a producer of the authenticated user, never the client's own
  // state: another user could otherwise fence the client, and so could a bearer token alone
  // (without the client's secret) of the client's own user.
  it.each([
    ['another user', 'mallory', '0'],
    ["the client's own user, at a higher epoch", 'alice', '9'],
  ])(
    'keeps a WebSocket client’s producer apart from HTTP appends of %s',
    async (_, user, epoch) => {
      const stream = uniqueName()
      const { client, welcome } = await greet(s.wsUrl, { token: 'alice' })
      client.send({ t: 'pub', stream, epoch: 5, seq: 0, data: 1 })
      await client.next<PubackFrame>('puback')
      const res = await fetch(streamUrl(stream), {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${user}`,
          'Content-Type': 'application/json',
          'Producer-Id': welcome.clientId,
          'Producer-Epoch': epoch,
          'Producer-Seq': '0',
        },
        body: '2',
      })
      expect(res.status).toBe(200)
      // The client goes on at its own epoch and seq, unfenced.
      client.send({ t: 'pub', stream, epoch: 5, seq: 1, data: 3 })
      expect(await client.next<PubackFrame>('puback')).toMatchObject({ offset: 3 })
      client.destroy()
    },
  )
})
