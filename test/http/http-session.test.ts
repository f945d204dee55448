import { type ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'

// The multiplexed HTTP session (docs/protocol.md, "HTTP sessions"), spoken by hand: one event read
// and one POST at a time carry the WebSocket protocol for every stream of a client.

let s: InProcessServer
const auth = (user: string) => ({ authorization: `Bearer ${user}` })

beforeAll(async () => {
  s = await startInProcessServer()
})
afterAll(() => s?.close())

interface Opened {
  readonly sessionId: string
  readonly frames: ServerFrame[]
}

async function open(user: string, hello: object = {}): Promise<Opened> {
  const res = await fetch(`${s.url}/v1/sessions`, {
    method: 'POST',
    headers: { ...auth(user), 'content-type': 'application/json' },
    body: JSON.stringify(hello),
  })
  expect(res.status).toBe(201)
  return (await res.json()) as Opened
}

async function post(user: string, id: string, batch: number, frames: object[], received?: number) {
  return fetch(`${s.url}/v1/sessions/${id}/frames`, {
    method: 'POST',
    headers: { ...auth(user), 'content-type': 'application/json' },
    body: JSON.stringify({ batch, frames, ...(received === undefined ? {} : { received }) }),
  })
}

interface Polled {
  readonly frames: ServerFrame[]
  readonly next: number
}

async function poll(user: string, id: string, after: number): Promise<Polled> {
  const res = await fetch(`${s.url}/v1/sessions/${id}/events?mode=poll&after=${after}`, {
    headers: auth(user),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as Polled
}

/** Long-polls until `done(frames)` holds; returns every frame read and the last sequence number. */
async function pollUntil(
  user: string,
  id: string,
  done: (frames: readonly ServerFrame[]) => boolean,
  after = 0,
): Promise<Polled> {
  const frames: ServerFrame[] = []
  let next = after
  for (let i = 0; i < 50 && !done(frames); i++) {
    const answer = await poll(user, id, next)
    frames.push(...answer.frames)
    next = answer.next
  }
  expect(done(frames)).toBe(true)
  return { frames, next }
}

describe('HTTP sessions', () => {
  it('opens with a welcome and carries subscribe, publish and delivery for several streams', async () => {
    const { sessionId, frames } = await open('alice')
    expect(frames[0]).toMatchObject({ t: 'welcome', userId: 'alice' })
    const streams = ['room:s1', 'room:s2', 'room:s3']
    expect(
      (
        await post(
          'alice',
          sessionId,
          1,
          streams.map((stream) => ({ t: 'sub', stream })),
        )
      ).status,
    ).toBe(204)
    await pollUntil(
      'alice',
      sessionId,
      (f) => f.filter((x) => x.t === 'caughtUp').length === streams.length,
    )
    const pubs = streams.map((stream, i) => ({ t: 'pub', stream, epoch: 0, seq: 0, data: { i } }))
    expect((await post('alice', sessionId, 2, pubs)).status).toBe(204)
    const { frames: read } = await pollUntil(
      'alice',
      sessionId,
      (f) =>
        f.filter((x) => x.t === 'msg').length === 3 &&
        f.filter((x) => x.t === 'puback').length === 3,
    )
    const msgs = read.filter((f) => f.t === 'msg')
    expect(msgs.map((m) => m.stream).sort()).toEqual(streams)
    // The envelope travels over HTTP too: these are WebSocket frames.
    expect(msgs[0]).toMatchObject({ from: 'alice', offset: 1 })
  })

  it('resends what was not acknowledged when a read starts again from the same point', async () => {
    const { sessionId } = await open('bob')
    await post('bob', sessionId, 1, [{ t: 'sub', stream: 'room:again' }])
    const first = await pollUntil('bob', sessionId, (f) => f.some((x) => x.t === 'caughtUp'))
    await s.server.publish('room:again', { n: 1 })
    const firstRead = await pollUntil(
      'bob',
      sessionId,
      (f) => f.some((x) => x.t === 'msg'),
      first.next,
    )
    // The answer got lost on its way (a proxy cut it): read again from the same point. The same
    // frames come again, in the same order (more may follow them).
    const again = await poll('bob', sessionId, first.next)
    expect(again.frames.slice(0, firstRead.frames.length)).toEqual(firstRead.frames)
    expect(again.frames.find((f) => f.t === 'msg')).toMatchObject({ data: { n: 1 } })
  })

  it('processes a retried POST once, by its batch number', async () => {
    const { sessionId } = await open('carol')
    const pub = { t: 'pub', stream: 'room:retry', epoch: 0, seq: 0, data: 'once' }
    expect((await post('carol', sessionId, 1, [pub, { t: 'ping' }])).status).toBe(204)
    expect((await post('carol', sessionId, 1, [pub, { t: 'ping' }])).status).toBe(204)
    expect((await post('carol', sessionId, 2, [{ t: 'ping' }])).status).toBe(204)
    const { frames } = await pollUntil(
      'carol',
      sessionId,
      (f) => f.filter((x) => x.t === 'pong').length === 2,
    )
    expect(frames.filter((f) => f.t === 'puback')).toHaveLength(1)
  })

  it('streams frames as server-sent events numbered for resumption', async () => {
    const { sessionId } = await open('dave')
    await post('dave', sessionId, 1, [{ t: 'ping' }])
    const controller = new AbortController()
    const res = await fetch(`${s.url}/v1/sessions/${sessionId}/events?mode=sse&after=1`, {
      headers: auth('dave'),
      signal: controller.signal,
    })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const reader = res.body!.getReader()
    let text = ''
    while (!text.includes('"pong"')) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    controller.abort()
    expect(text.startsWith(': open\n\n')).toBe(true)
    expect(text).toContain('id: 2\ndata: {"t":"pong"}\n\n')
  })

  it('streams thousands of waiting frames in one event read', async () => {
    const { sessionId } = await open('gina')
    await post('gina', sessionId, 1, [{ t: 'sub', stream: 'room:backlog' }])
    await pollUntil('gina', sessionId, (f) => f.some((x) => x.t === 'caughtUp'))
    await Promise.all(Array.from({ length: 3_000 }, (_, n) => s.server.publish('room:backlog', n)))
    const res = await fetch(`${s.url}/v1/sessions/${sessionId}/events?mode=sse&after=0`, {
      headers: auth('gina'),
    })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('"offset":3000,')) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    await reader.cancel()
    const offsets = [...text.matchAll(/"offset":(\d+),/g)].map((m) => Number(m[1]))
    expect(offsets).toEqual(Array.from({ length: 3_000 }, (_, i) => i + 1))
  })

  it('refuses a session of another user, an unknown session and a bad batch', async () => {
    const { sessionId } = await open('erin')
    expect((await post('mallory', sessionId, 1, [{ t: 'ping' }])).status).toBe(403)
    expect((await post('erin', 'nope', 1, [{ t: 'ping' }])).status).toBe(404)
    const bad = await fetch(`${s.url}/v1/sessions/${sessionId}/frames`, {
      method: 'POST',
      headers: { ...auth('erin'), 'content-type': 'application/json' },
      body: '{"frames":[]}',
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('BAD_FRAME')
    const refused = await fetch(`${s.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    expect(refused.status).toBe(401)
  })

  it('counts a session in presence like a WebSocket connection', async () => {
    const { sessionId } = await open('frank')
    await post('frank', sessionId, 1, [{ t: 'sub', stream: 'room:present' }])
    await pollUntil('frank', sessionId, (f) => f.some((x) => x.t === 'caughtUp'))
    expect(s.server.presence('room:present').users).toContainEqual({ user: 'frank', clients: 1 })
    const closed = await fetch(`${s.url}/v1/sessions/${sessionId}`, {
      method: 'DELETE',
      headers: auth('frank'),
    })
    expect(closed.status).toBe(204)
    expect(s.server.presence('room:present').users).toEqual([])
  })
})

describe('HTTP sessions from another origin', () => {
  const origin = { origin: 'https://app.example.com' }

  it('answers the preflight of every session route', async () => {
    for (const [method, path] of [
      ['POST', '/v1/sessions'],
      ['GET', '/v1/sessions/x/events'],
      ['POST', '/v1/sessions/x/frames'],
      ['DELETE', '/v1/sessions/x'],
    ] as const) {
      const res = await fetch(`${s.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          ...origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization, content-type',
        },
      })
      expect(res.status, `${method} ${path}`).toBe(204)
      expect(res.headers.get('access-control-allow-methods')).toContain(method)
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
        'authorization',
      )
    }
  })

  it('lets a page of another origin read the answers, errors and Retry-After included', async () => {
    const res = await fetch(`${s.url}/v1/sessions`, {
      method: 'POST',
      headers: { ...origin, ...auth('cors-user'), 'content-type': 'application/json' },
      body: '{}',
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const { sessionId } = (await res.json()) as Opened
    const events = await fetch(`${s.url}/v1/sessions/${sessionId}/events?mode=poll&after=0`, {
      headers: { ...origin, ...auth('cors-user') },
    })
    expect(events.headers.get('access-control-allow-origin')).toBe('*')
    await events.body?.cancel()
    const unknown = await fetch(`${s.url}/v1/sessions/nope/frames`, {
      method: 'POST',
      headers: { ...origin, ...auth('cors-user'), 'content-type': 'application/json' },
      body: '{"batch":1,"frames":[]}',
    })
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*')
    expect(unknown.headers.get('access-control-expose-headers')).toContain('Retry-After')
    await unknown.body?.cancel()
  })
})
