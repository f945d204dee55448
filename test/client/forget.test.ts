import {
  ClientErrorCode,
  createClient,
  type Environment,
  type EnvironmentHooks,
  MemoryStorage,
  type SeqlineClient,
} from '@seqline/client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeServer } from './fake-server.js'

/** Waits for `check` to pass: generous, as the first use of a lazy chunk is compiled on the fly. */
const until = (check: () => unknown) => vi.waitFor(check, { timeout: 5000, interval: 10 })

// Forgetting a client when it closes for good: the browser's closing notice on `pagehide` (through
// a fake page environment) and Node's `close({ forget: true })`, against the fake server, which
// verifies the notice's MAC and deletes clients.

let server: FakeServer
const clients: SeqlineClient[] = []

beforeEach(async () => {
  server = await FakeServer.start()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await server.close()
})

/** A page the test controls: its lifecycle hooks, and beacons that really POST to the server. */
interface FakePage {
  hooks: EnvironmentHooks | undefined
  readonly beacons: { url: string; body: string }[]
  /** The status of each beacon's POST. */
  readonly answers: Promise<number>[]
  readonly environment: Environment
}

function fakePage(): FakePage {
  const page: FakePage = {
    hooks: undefined,
    beacons: [],
    answers: [],
    environment: {
      isOnline: () => true,
      watch(hooks) {
        page.hooks = hooks
        return () => (page.hooks = undefined)
      },
      beacon(url, body) {
        page.beacons.push({ url, body })
        const sent = fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' } })
        page.answers.push(sent.then((res) => res.status))
        return true
      },
    },
  }
  return page
}

function client(options: { storage?: MemoryStorage; environment?: Environment | null } = {}) {
  const c = createClient({
    url: server.url,
    token: 'alice',
    storage: options.storage ?? new MemoryStorage(),
    backoff: { baseMs: 20, maxMs: 200 },
    environment: options.environment ?? null,
  })
  clients.push(c)
  return c
}

const open = (c: SeqlineClient) => until(() => expect(c.state.kind).toBe('open'))

describe('forgetting a client', () => {
  it('tells the server on pagehide with a closing notice it verifies, without a request of its own', async () => {
    const page = fakePage()
    const c = client({ environment: page.environment })
    await open(c)
    const id = c.clientId!
    // The notice is signed asynchronously after the welcome; the page may leave any time after.
    await until(() => {
      page.hooks?.leave()
      expect(page.beacons).toHaveLength(1)
    })
    expect(page.beacons[0]!.url).toBe(`${server.url}/v1/clients/${id}/closing`)
    expect(JSON.parse(page.beacons[0]!.body)).toEqual({
      ts: expect.any(Number),
      mac: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    })
    await expect(page.answers[0]).resolves.toBe(204)
    expect(server.closed).toEqual([id])
    expect(server.refusedNotices).toEqual([])
  })

  it('sends no notice when the page has no environment (Node)', async () => {
    const c = client()
    await open(c)
    await c.close()
    expect(server.closed).toEqual([])
    expect(server.clientIds()).toContain(c.clientId)
  })

  it('deletes the client on close({ forget: true }) and removes its local state', async () => {
    const storage = new MemoryStorage()
    const c = client({ storage })
    const seen: number[] = []
    c.stream<number>('room:f').subscribe({ onMessage: (m) => void seen.push(m.data) })
    await c.stream<number>('room:f').publish(1)
    await until(() => expect(seen).toEqual([1]))
    const id = c.clientId!
    expect((await storage.keys('')).length).toBeGreaterThan(1)
    await c.close({ forget: true })
    expect(server.deleted).toEqual([id])
    expect(server.clientIds()).not.toContain(id)
    expect(await storage.keys('')).toEqual([])
    // The acks were flushed before the connection closed.
    expect(server.frames.filter((f) => f.t === 'ack').at(-1)).toMatchObject({ offset: 1 })
  })

  it('removes the local state and rejects with FORGET_FAILED when the server cannot be reached', async () => {
    const storage = new MemoryStorage()
    const c = createClient({
      url: server.url,
      token: 'alice',
      storage,
      environment: null,
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    })
    clients.push(c)
    await open(c)
    await expect(c.close({ forget: true })).rejects.toMatchObject({
      code: ClientErrorCode.FORGET_FAILED,
    })
    expect(await storage.keys('')).toEqual([])
    expect(server.clientIds()).toContain(c.clientId)
  })
})
