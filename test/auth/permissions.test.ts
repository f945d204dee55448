import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { ServerFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { type TempDir, createTempDir } from '../support/temp-dir.js'
import { greet } from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'
import { TEST_JWT_SECRET, signToken } from './jwt-tokens.js'

// The example policy (examples/permissions.json) enforced end to end by `seqline serve`, through
// both doors, with the claims of real JWTs:
//   user:{id}   read, publish: only user {id}
//   room:{name} read, presence: everyone; publish, signal: the rooms claim lists {name};
//               manage: the role claim is "admin"
//   anything else: denied

const EXAMPLE = fileURLToPath(new URL('../../examples/permissions.json', import.meta.url))

let dir: TempDir
let server: ServerProcess
/** Member of general and random. */
let alice: string
/** Member of random and fresh. */
let bob: string
/** Admin, member of no room. */
let carol: string
const open: RawClient[] = []

beforeAll(async () => {
  dir = await createTempDir()
  const secretFile = dir.join('jwt-secret')
  await writeFile(secretFile, TEST_JWT_SECRET, { mode: 0o600 })
  server = await startServerProcess({
    args: ['--auth', `jwt:file:${secretFile}`, '--permissions', EXAMPLE],
  })
  alice = await signToken('alice', { rooms: ['general', 'random', 'doomed-1', 'ttl-1'] })
  bob = await signToken('bob', { rooms: ['random', 'fresh'] })
  carol = await signToken('carol', { role: 'admin' })
  // Streams the HTTP cases read and append to (creating one needs `publish` on it today).
  for (const [token, stream] of [
    [alice, 'user:alice'],
    [bob, 'user:bob'],
    [alice, 'room:general'],
    [alice, 'room:doomed-1'],
  ] as const) {
    expect(await status(http(token, 'PUT', stream, '{"seed":true}'))).toBe(201)
  }
})

afterAll(async () => {
  for (const client of open) client.destroy()
  await server?.dispose()
  await dir?.remove()
})

async function connect(
  token: string,
  resume?: { stream: string; epoch: string; offset: number }[],
) {
  const { client, welcome } = await greet(server.wsUrl, { token, ...(resume ? { resume } : {}) })
  open.push(client)
  return { client, welcome }
}

/** How the server answered a request about `stream`: `ok`, or the error code. */
type Outcome = 'ok' | string

const forStream =
  (stream: string, ...types: string[]) =>
  (frame: ServerFrame): boolean =>
    types.includes(frame.t) && 'stream' in frame && frame.stream === stream

/** Subscribes: `ok` at `caughtUp`, the code of an `error` frame otherwise. */
async function sub(client: RawClient, stream: string): Promise<Outcome> {
  client.send({ t: 'sub', stream, from: 'earliest' })
  return outcomeOf(await client.next(forStream(stream, 'caughtUp', 'error')))
}

const seqs = new WeakMap<RawClient, Map<string, number>>()

/** Publishes: `ok` at `puback`, the code of the `nack` otherwise. */
async function pub(client: RawClient, stream: string): Promise<Outcome> {
  const perStream = seqs.get(client) ?? new Map<string, number>()
  seqs.set(client, perStream)
  const seq = perStream.get(stream) ?? 0
  client.send({ t: 'pub', stream, epoch: 0, seq, data: { text: `from seq ${seq}` } })
  const reply = await client.next(forStream(stream, 'puback', 'nack'))
  if (reply.t === 'puback') perStream.set(stream, seq + 1)
  return outcomeOf(reply)
}

/**
 * Sends a frame that has no reply when it succeeds (`ack`, `signal`), then a `ping`: frames are
 * handled in order, so once the `pong` is back the frame was handled, and an `error` for the
 * stream, if any, has arrived before it.
 */
async function fireAndCheck(client: RawClient, frame: Record<string, unknown>): Promise<Outcome> {
  const from = client.frames.length
  client.send(frame)
  client.send({ t: 'ping' })
  await client.next('pong')
  const error = client.frames
    .slice(from)
    .find((f) => f.t === 'error' && 'stream' in f && f.stream === frame.stream)
  return error === undefined ? 'ok' : outcomeOf(error)
}

function outcomeOf(frame: ServerFrame): Outcome {
  if (frame.t === 'error' || frame.t === 'nack') return frame.code
  return 'ok'
}

function http(
  token: string,
  method: string,
  stream: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.url}/v1/stream/${stream}${method === 'GET' ? '?offset=-1' : ''}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body,
  })
}

/** The status of a request, its body consumed. */
async function status(response: Promise<Response>): Promise<number> {
  const res = await response
  await res.arrayBuffer()
  return res.status
}

describe('the example policy over WebSocket', () => {
  it('lets a user subscribe to their own user stream only', async () => {
    const { client } = await connect(alice)
    expect(await sub(client, 'user:alice')).toBe('ok')
    expect(await sub(client, 'user:bob')).toBe('FORBIDDEN')
    const admin = (await connect(carol)).client
    expect(await sub(admin, 'user:alice')).toBe('FORBIDDEN')
  })

  it('lets every user subscribe to a room and nobody to other streams', async () => {
    for (const token of [alice, bob, carol]) {
      const { client } = await connect(token)
      expect(await sub(client, 'room:general')).toBe('ok')
      expect(await sub(client, 'dm:alice:bob')).toBe('FORBIDDEN')
      expect(await sub(client, 'room:general:archive')).toBe('FORBIDDEN')
    }
  })

  it('checks every stream resumed through hello.resume', async () => {
    const first = (await connect(alice)).client
    const puback = await (async () => {
      first.send({ t: 'pub', stream: 'user:alice', epoch: 0, seq: 0, data: { n: 1 } })
      return first.next(forStream('user:alice', 'puback'))
    })()
    if (puback.t !== 'puback') throw new Error('expected a puback')
    const resume = [
      { stream: 'user:alice', epoch: puback.epoch, offset: 0 },
      { stream: 'user:bob', epoch: puback.epoch, offset: 0 },
      { stream: 'room:general', epoch: puback.epoch, offset: 0 },
    ]
    const { client } = await connect(alice, resume)
    expect(outcomeOf(await client.next(forStream('user:alice', 'caughtUp', 'error')))).toBe('ok')
    expect(outcomeOf(await client.next(forStream('user:bob', 'caughtUp', 'error')))).toBe(
      'FORBIDDEN',
    )
    expect(outcomeOf(await client.next(forStream('room:general', 'caughtUp', 'error')))).toBe('ok')
  })

  it('lets a user publish on their own user stream only', async () => {
    expect(await pub((await connect(alice)).client, 'user:alice')).toBe('ok')
    expect(await pub((await connect(bob)).client, 'user:alice')).toBe('FORBIDDEN')
    expect(await pub((await connect(carol)).client, 'user:alice')).toBe('FORBIDDEN')
  })

  it('lets only members named in the rooms claim publish in a room', async () => {
    expect(await pub((await connect(alice)).client, 'room:general')).toBe('ok')
    expect(await pub((await connect(bob)).client, 'room:random')).toBe('ok')
    expect(await pub((await connect(bob)).client, 'room:general')).toBe('FORBIDDEN')
    expect(await pub((await connect(carol)).client, 'room:general')).toBe('FORBIDDEN')
    expect(await pub((await connect(alice)).client, 'dm:alice:bob')).toBe('FORBIDDEN')
  })

  it('lets only members signal in a room', async () => {
    const watcher = (await connect(bob)).client
    expect(await sub(watcher, 'room:general')).toBe('ok')
    const member = (await connect(alice)).client
    expect(
      await fireAndCheck(member, { t: 'signal', stream: 'room:general', data: 'typing' }),
    ).toBe('ok')
    const signal = await watcher.next(forStream('room:general', 'signal'))
    expect(signal).toMatchObject({ from: 'alice', data: 'typing' })
    expect(await fireAndCheck(watcher, { t: 'signal', stream: 'room:general', data: 'x' })).toBe(
      'FORBIDDEN',
    )
    const admin = (await connect(carol)).client
    expect(await fireAndCheck(admin, { t: 'signal', stream: 'room:general', data: 'x' })).toBe(
      'FORBIDDEN',
    )
  })

  it('lets a user ack where they may read, and nowhere else', async () => {
    const { client } = await connect(alice)
    expect(await pub(client, 'user:alice')).toBe('ok')
    expect(await fireAndCheck(client, { t: 'ack', stream: 'user:alice', offset: 1 })).toBe('ok')
    expect(await fireAndCheck(client, { t: 'ack', stream: 'room:general', offset: 1 })).toBe('ok')
    expect(await fireAndCheck(client, { t: 'ack', stream: 'user:bob', offset: 1 })).toBe(
      'FORBIDDEN',
    )
    expect(await fireAndCheck(client, { t: 'ack', stream: 'dm:alice:bob', offset: 1 })).toBe(
      'FORBIDDEN',
    )
  })
})

describe('the example policy over HTTP', () => {
  it('lets a user read their own user stream only', async () => {
    expect(await status(http(alice, 'GET', 'user:alice'))).toBe(200)
    expect(await status(http(alice, 'HEAD', 'user:alice'))).toBe(200)
    expect(await status(http(bob, 'GET', 'user:alice'))).toBe(403)
    expect(await status(http(bob, 'HEAD', 'user:alice'))).toBe(403)
    expect(await status(http(carol, 'GET', 'user:alice'))).toBe(403)
  })

  it('lets a user append to their own user stream only', async () => {
    expect(await status(http(alice, 'POST', 'user:alice', '{"n":1}'))).toBeLessThan(300)
    expect(await status(http(bob, 'POST', 'user:alice', '{"n":1}'))).toBe(403)
    expect(await status(http(carol, 'POST', 'user:alice', '{"n":1}'))).toBe(403)
  })

  it('lets everyone read a room, and only members append to it or create it', async () => {
    for (const token of [alice, bob, carol]) {
      expect(await status(http(token, 'GET', 'room:general'))).toBe(200)
    }
    expect(await status(http(alice, 'POST', 'room:general', '{"n":1}'))).toBeLessThan(300)
    expect(await status(http(bob, 'POST', 'room:general', '{"n":1}'))).toBe(403)
    expect(await status(http(carol, 'POST', 'room:general', '{"n":1}'))).toBe(403)
    const json = { 'Content-Type': 'application/json' }
    expect(await status(http(bob, 'PUT', 'room:fresh', undefined, json))).toBe(201)
    expect(await status(http(alice, 'PUT', 'room:general', undefined, json))).toBe(200)
    expect(await status(http(bob, 'PUT', 'room:general', undefined, json))).toBe(403)
  })

  it('denies every method on streams no rule names', async () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) {
      const body = method === 'POST' ? '{"n":1}' : undefined
      expect(await status(http(alice, method, 'dm:alice:bob', body))).toBe(403)
    }
  })

  it('lets a client ack over HTTP where its user may read, and nowhere else', async () => {
    const res = await fetch(`${server.url}/v1/clients`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice}` },
    })
    const { clientId, secret } = (await res.json()) as { clientId: string; secret: string }
    const ack = (stream: string): Promise<number> =>
      status(
        fetch(`${server.url}/v1/clients/${clientId}/acks`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${alice}`,
            'Content-Type': 'application/json',
            'Seqline-Client-Secret': secret,
          },
          body: JSON.stringify({ stream, offset: 1 }),
        }),
      )
    expect(await ack('user:alice')).toBe(204)
    expect(await ack('room:general')).toBe(204)
    expect(await ack('user:bob')).toBe(403)
    expect(await ack('dm:alice:bob')).toBe(403)
  })

  // `manage`: DELETE, a PUT with options (TTL, expiry, another content type, closed, fork) and a
  // close — being allowed to publish to a room is not being allowed to destroy it.
  it('refuses DELETE of a room to a member who is no admin', async () => {
    expect(await status(http(alice, 'DELETE', 'room:doomed-1'))).toBe(403)
  })

  it('lets an admin DELETE a room', async () => {
    expect(await status(http(bob, 'POST', 'room:fresh', '{"before":"delete"}'))).toBe(204)
    const reader = (await connect(bob)).client
    expect(await sub(reader, 'room:fresh')).toBe('ok')
    expect(await status(http(carol, 'DELETE', 'room:fresh'))).toBe(204)
    const ended = await reader.next(forStream('room:fresh', 'error'))
    expect(ended).toMatchObject({ code: 'STREAM_NOT_FOUND' })
  })

  it('lets only an admin create a room with options', async () => {
    const ttl = { 'Stream-TTL': '3600' }
    expect(await status(http(alice, 'PUT', 'room:ttl-1', undefined, ttl))).toBe(403)
    expect(await status(http(carol, 'PUT', 'room:ttl-2', undefined, ttl))).toBe(201)
  })
})
