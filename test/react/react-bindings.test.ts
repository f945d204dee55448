// @vitest-environment happy-dom
import {
  MemoryStorage,
  type SeqlineClient,
  type WebSocketConstructor,
  createClient,
} from '@seqline/client'
import {
  SeqlineProvider,
  historySnapshot,
  useConnectionState,
  usePresence,
  usePublish,
  useSignal,
  useStream,
} from '@seqline/react'
import { act, cleanup, renderHook, waitFor } from '@testing-library/react'
import { get } from 'node:http'
import { type ReactNode, createElement } from 'react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { FakeServer } from '../client/fake-server.js'
import { type InProcessServer, startInProcessServer } from '../support/in-process-server.js'

interface Chat {
  readonly n: number
}

let server: InProcessServer
const clients: SeqlineClient[] = []

beforeEach(async () => {
  server = await startInProcessServer()
})

afterEach(async () => {
  cleanup()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await server.close()
})

function newClient(user: string, storage = new MemoryStorage()): SeqlineClient {
  const client = createClient({
    url: server.url,
    token: user,
    storage,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    environment: null,
    ackDelayMs: 10,
  })
  clients.push(client)
  return client
}

function wrapper(client: SeqlineClient) {
  return ({ children }: { children: ReactNode }) =>
    createElement(SeqlineProvider, { client }, children)
}

async function publishMany(stream: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n += 1) await server.server.publish(stream, { n })
}

// happy-dom's fetch enforces CORS for its fake page origin; the server is not a CORS server, so
// history is fetched the way Node would.
const nodeFetch = ((url: string, init?: { headers?: Record<string, string> }) =>
  new Promise((resolve, reject) => {
    get(url, { headers: init?.headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        const status = res.statusCode ?? 0
        resolve({ ok: status >= 200 && status < 300, status, json: async () => JSON.parse(text) })
      })
    }).on('error', reject)
  })) as unknown as typeof fetch

function history(user: string, pageSize?: number) {
  return historySnapshot<Chat>({
    url: server.url,
    token: user,
    fetch: nodeFetch,
    ...(pageSize === undefined ? {} : { pageSize }),
  })
}

const numbers = (messages: readonly { data: Chat }[]): number[] => messages.map((m) => m.data.n)

describe('useStream', () => {
  it('starts from the latest page of history and goes live after it', async () => {
    await publishMany('room:a', 1, 5)
    const snapshot = history('alice', 3)
    const { result } = renderHook(
      () => useStream<Chat>('room:a', { snapshot, older: snapshot.older }),
      { wrapper: wrapper(newClient('alice')) },
    )
    await waitFor(() => expect(result.current.status).toBe('live'))
    expect(numbers(result.current.messages)).toEqual([3, 4, 5])
    expect(result.current.hasOlder).toBe(true)
    await publishMany('room:a', 6, 7)
    await waitFor(() => expect(numbers(result.current.messages)).toEqual([3, 4, 5, 6, 7]))
    await act(() => result.current.loadOlder())
    expect(numbers(result.current.messages)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(result.current.hasOlder).toBe(false)
  })

  it('resumes after a remount without repeating or skipping a message', async () => {
    await publishMany('room:a', 1, 3)
    const client = newClient('alice')
    const snapshot = history('alice')
    const first = renderHook(() => useStream<Chat>('room:a', { snapshot }), {
      wrapper: wrapper(client),
    })
    await waitFor(() => expect(first.result.current.status).toBe('live'))
    first.unmount()
    await publishMany('room:a', 4, 6)
    const second = renderHook(() => useStream<Chat>('room:a', { snapshot }), {
      wrapper: wrapper(client),
    })
    await waitFor(() => expect(numbers(second.result.current.messages)).toEqual([1, 2, 3, 4, 5, 6]))
  })

  it('follows from the start without a snapshot and switches streams cleanly', async () => {
    await publishMany('room:a', 1, 2)
    await publishMany('room:b', 10, 11)
    const { result, rerender } = renderHook(
      ({ stream }: { stream: string }) => useStream<Chat>(stream, { from: 'earliest' }),
      { wrapper: wrapper(newClient('alice')), initialProps: { stream: 'room:a' } },
    )
    await waitFor(() => expect(numbers(result.current.messages)).toEqual([1, 2]))
    rerender({ stream: 'room:b' })
    expect(result.current.stream).toBe('room:b')
    await waitFor(() => expect(numbers(result.current.messages)).toEqual([10, 11]))
  })
})

describe('usePublish', () => {
  it('publishes through the outbox and resolves with the offset', async () => {
    const { result } = renderHook(
      () => ({
        publish: usePublish<Chat>('room:p'),
        view: useStream<Chat>('room:p', { from: 'earliest' }),
      }),
      { wrapper: wrapper(newClient('alice')) },
    )
    await waitFor(() => expect(result.current.view.status).toBe('live'))
    const outcome = await act(() => result.current.publish({ n: 42 }))
    expect(outcome.offset).toBe(1)
    await waitFor(() => expect(numbers(result.current.view.messages)).toEqual([42]))
    expect(result.current.view.messages[0]?.from).toBe('alice')
  })
})

describe('usePresence and useSignal', () => {
  it('lists the users following a stream and passes signals between them', async () => {
    const signals: unknown[] = []
    const alice = renderHook(
      () => ({
        view: useStream('room:x'),
        presence: usePresence('room:x'),
        send: useSignal('room:x'),
      }),
      { wrapper: wrapper(newClient('alice')) },
    )
    const bob = renderHook(
      () => ({
        view: useStream('room:x'),
        presence: usePresence('room:x'),
        send: useSignal<{ typing: boolean }>('room:x', (s) => signals.push([s.from, s.data])),
      }),
      { wrapper: wrapper(newClient('bob')) },
    )
    await waitFor(() =>
      expect(bob.result.current.presence.users.map((p) => p.user).sort()).toEqual(['alice', 'bob']),
    )
    await waitFor(() => expect(alice.result.current.presence.users).toHaveLength(2))
    expect(alice.result.current.presence).toMatchObject({
      count: { users: 2, clients: 2 },
      complete: true,
    })
    alice.result.current.send({ typing: true })
    await waitFor(() => expect(signals).toEqual([['alice', { typing: true }]]))
  })
})

describe('usePresence in a large room', () => {
  it('shows the server counts and says when the list is incomplete', async () => {
    const fake = await FakeServer.start()
    try {
      const client = createClient({
        url: fake.url,
        token: 'alice',
        storage: new MemoryStorage(),
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        environment: null,
      })
      clients.push(client)
      const { result } = renderHook(
        () => ({ view: useStream('room:big'), presence: usePresence('room:big') }),
        { wrapper: wrapper(client) },
      )
      await waitFor(() => expect(result.current.presence.count).toEqual({ users: 1, clients: 1 }))
      fake.broadcast({
        t: 'presence',
        stream: 'room:big',
        users: [{ user: 'alice', clients: 1 }],
        count: { users: 1200, clients: 1500 },
        complete: false,
      })
      await waitFor(() =>
        expect(result.current.presence).toEqual({
          users: [{ user: 'alice', clients: 1 }],
          count: { users: 1200, clients: 1500 },
          complete: false,
        }),
      )
      fake.broadcast({
        t: 'presenceDiff',
        stream: 'room:big',
        changes: [{ user: 'bob', clients: 2 }],
        count: { users: 1201, clients: 1502 },
      })
      await waitFor(() => expect(result.current.presence.count.users).toBe(1201))
      expect(result.current.presence.users.map((p) => p.user)).toEqual(['alice', 'bob'])
      expect(result.current.presence.complete).toBe(false)
    } finally {
      cleanup()
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await fake.close()
    }
  })
})

describe('useConnectionState', () => {
  it('reports open, then closed after the client closes', async () => {
    const client = newClient('alice')
    const { result } = renderHook(() => useConnectionState(), { wrapper: wrapper(client) })
    await waitFor(() => expect(result.current.kind).toBe('open'))
    expect(result.current.catchingUp).toBe(false)
    await act(() => client.close())
    expect(result.current.kind).toBe('closed')
  })

  it('throws a clear error outside a provider', () => {
    expect(() => renderHook(() => useConnectionState())).toThrow(/SeqlineProvider/)
  })
})
