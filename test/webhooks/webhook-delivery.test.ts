import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { verifySignature } from '../../packages/server/src/auth/hmac-signature.js'
import { MemoryWebhookLog } from '../../packages/server/src/webhooks/memory-webhook-log.js'
import { WebhookDispatcher } from '../../packages/server/src/webhooks/webhook-dispatcher.js'
import {
  type WebhookEvent,
  createWebhookEvent,
} from '../../packages/server/src/webhooks/webhook-event.js'
import type { WebhookLog } from '../../packages/server/src/webhooks/webhook-log.js'
import { SeededRandom } from '../support/seeded-random.js'

// The webhook dispatcher against a real HTTP receiver that misbehaves: it answers 500, resets the
// connection, or never answers, at random (seeded: set SEQLINE_TEST_SEED to replay a run). What
// must hold whatever it does: every event arrives at least once with its one id, nothing is lost,
// and the cursor — what a restart would skip — never passes an event that was not delivered.

const SECRET = 'the-webhook-secret-shared-with-the-receiver'
const SEED = Number(process.env.SEQLINE_TEST_SEED ?? 20_261_201)

/** What the receiver does with one request. */
type Behaviour = 'ok' | 'error' | 'reset' | 'hang'

/** One request as the receiver saw it. */
interface Received {
  readonly id: string
  readonly headerId: string | undefined
  readonly body: string
  readonly signed: boolean
  readonly behaviour: Behaviour
}

interface Receiver {
  readonly url: string
  readonly requests: Received[]
  /** Ids the receiver answered 2xx, i.e. delivered. */
  readonly accepted: Set<string>
  decide: (event: WebhookEvent) => Behaviour
  /** Resolves once `condition()` holds, checked after every request. */
  until(condition: () => boolean): Promise<void>
  close(): Promise<void>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startReceiver(decide: (event: WebhookEvent) => Behaviour): Promise<Receiver> {
  const requests: Received[] = []
  const accepted = new Set<string>()
  const hanging = new Set<ServerResponse>()
  const waiters = new Set<() => void>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const event = JSON.parse(body) as WebhookEvent
      const behaviour = receiver.decide(event)
      const signature = req.headers['seqline-signature']
      const headerId = req.headers['seqline-event-id']
      requests.push({
        id: event.id,
        headerId: typeof headerId === 'string' ? headerId : undefined,
        body,
        signed: verifySignature(SECRET, typeof signature === 'string' ? signature : '', body),
        behaviour,
      })
      if (behaviour === 'ok') {
        accepted.add(event.id)
        res.writeHead(204).end()
      } else if (behaviour === 'error') {
        res.writeHead(500).end('unavailable')
      } else if (behaviour === 'reset') {
        req.socket.destroy()
      } else {
        hanging.add(res)
      }
      for (const wake of [...waiters]) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/seqline`,
    requests,
    accepted,
    decide,
    until: (condition) =>
      new Promise<void>((resolve) => {
        const wake = (): void => {
          if (!condition()) return
          waiters.delete(wake)
          resolve()
        }
        waiters.add(wake)
        wake()
      }),
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  cleanups.push(() => receiver.close())
  return receiver
}

/**
 * The memory log seen through the contract's eyes: every saved cursor is checked against what
 * the receiver accepted, and waiters can await a cursor position.
 */
class CheckedLog implements WebhookLog {
  readonly inner = new MemoryWebhookLog()
  readonly events = new Map<number, WebhookEvent>()
  readonly violations: string[] = []
  cursor = 0
  readonly #waiters = new Set<() => void>()

  constructor(private readonly accepted: () => ReadonlySet<string>) {}

  append(event: WebhookEvent): number {
    const offset = this.inner.append(event)
    this.events.set(offset, event)
    return offset
  }

  read(after: number, limit: number) {
    return this.inner.read(after, limit)
  }

  waitForMore(after: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitForMore(after, signal)
  }

  loadCursor(): Promise<number> {
    return this.inner.loadCursor()
  }

  async saveCursor(offset: number): Promise<void> {
    if (offset <= this.cursor) this.violations.push(`cursor went from ${this.cursor} to ${offset}`)
    for (const [at, event] of this.events) {
      if (at <= offset && !this.accepted().has(event.id) && !this.givenUp.has(event.id)) {
        this.violations.push(`cursor ${offset} passed the undelivered event at ${at}`)
      }
    }
    this.cursor = offset
    await this.inner.saveCursor(offset)
    for (const wake of [...this.#waiters]) wake()
  }

  /** Events the test expects to be given up (allowed behind the cursor). */
  readonly givenUp = new Set<string>()

  /** Resolves once the cursor is at or past `offset`. */
  reached(offset: number): Promise<void> {
    if (this.cursor >= offset) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = (): void => {
        if (this.cursor < offset) return
        this.#waiters.delete(wake)
        resolve()
      }
      this.#waiters.add(wake)
    })
  }
}

function startDispatcher(
  receiver: Receiver,
  log: WebhookLog,
  options: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {},
): WebhookDispatcher {
  const dispatcher = new WebhookDispatcher({
    url: receiver.url,
    secret: SECRET,
    log,
    concurrency: 6,
    timeoutMs: 200,
    retryInitialDelayMs: 5,
    retryMaxDelayMs: 40,
    ...options,
  })
  dispatcher.start()
  cleanups.push(() => dispatcher.stop())
  return dispatcher
}

const clientEvent = (n: number): WebhookEvent =>
  createWebhookEvent('client.registered', { user: `user-${n}`, clientId: `c_${n}` })

async function counter(registry: Registry, result: string): Promise<number> {
  const metric = await registry.getSingleMetric('seqline_webhook_attempts_total')?.get()
  return metric?.values.find((v) => v.labels.result === result)?.value ?? 0
}

describe('WebhookDispatcher', () => {
  it(`delivers every event at least once through 500s, resets and timeouts (seed ${SEED})`, async () => {
    const random = new SeededRandom(SEED)
    const receiver = await startReceiver(() =>
      random.weighted<Behaviour>({ ok: 50, error: 20, reset: 15, hang: 15 }),
    )
    const log = new CheckedLog(() => receiver.accepted)
    const registry = new Registry()
    const jitter = new SeededRandom(SEED + 1)
    startDispatcher(receiver, log, { registry, random: () => jitter.next() })

    // Events arrive while earlier ones are being delivered, as on a live server.
    const total = 200
    for (let batch = 0; batch < 4; batch++) {
      for (let i = 0; i < total / 4; i++) log.append(clientEvent(batch * 50 + i))
      await log.reached(batch * 50 + 25)
    }
    await log.reached(total)

    expect(log.violations).toEqual([])
    const ids = [...log.events.values()].map((e) => e.id)
    expect(new Set(ids).size).toBe(total)
    expect([...receiver.accepted].sort()).toEqual([...ids].sort())
    // Every request carried its event's one id and body, signed.
    const bodies = new Map([...log.events.values()].map((e) => [e.id, JSON.stringify(e)]))
    for (const request of receiver.requests) {
      expect(request.body).toBe(bodies.get(request.id))
      expect(request.headerId).toBe(request.id)
      expect(request.signed).toBe(true)
    }
    const behaviours = new Set(receiver.requests.map((r) => r.behaviour))
    expect([...behaviours].sort()).toEqual(['error', 'hang', 'ok', 'reset'])
    // The dispatcher counts each event delivered once, however many times it was sent.
    expect(await counter(registry, 'delivered')).toBe(total)
    expect(await counter(registry, 'failed')).toBeGreaterThan(0)
    expect(await counter(registry, 'given_up')).toBe(0)
  })

  it('keeps the cursor before an event that keeps failing while later ones are delivered', async () => {
    let releaseFirst = false
    const first = clientEvent(0)
    const receiver = await startReceiver((event) =>
      event.id === first.id && !releaseFirst ? 'error' : 'ok',
    )
    const log = new CheckedLog(() => receiver.accepted)
    startDispatcher(receiver, log, { concurrency: 5 })
    log.append(first)
    const later = [1, 2, 3, 4].map((n) => clientEvent(n))
    for (const event of later) log.append(event)
    await receiver.until(
      () => later.every((e) => receiver.accepted.has(e.id)) && hasRetried(first.id),
    )
    expect(log.cursor).toBe(0)
    releaseFirst = true
    await log.reached(5)
    expect(log.violations).toEqual([])

    function hasRetried(id: string): boolean {
      return receiver.requests.filter((r) => r.id === id).length >= 3
    }
  })

  it('gives up an event still failing past the maximum age, counts it, and moves on', async () => {
    const receiver = await startReceiver(() => 'error')
    const log = new CheckedLog(() => receiver.accepted)
    const registry = new Registry()
    const hourAgo = Date.now() - 3_600_000
    const stale = createWebhookEvent(
      'stream.deleted',
      { stream: 'room:x', reason: 'deleted' },
      hourAgo,
    )
    log.givenUp.add(stale.id)
    log.append(stale)
    startDispatcher(receiver, log, { registry, maxAgeMs: 60_000 })
    await log.reached(1)
    expect(await counter(registry, 'given_up')).toBe(1)
    expect(receiver.requests.map((r) => r.id)).toEqual([stale.id])
    expect(log.violations).toEqual([])
  })

  it('resumes after a stop from the saved cursor, sending nothing at or below it again', async () => {
    const random = new SeededRandom(SEED + 2)
    const receiver = await startReceiver(() =>
      random.weighted<Behaviour>({ ok: 70, error: 20, reset: 0, hang: 10 }),
    )
    const log = new CheckedLog(() => receiver.accepted)
    for (let i = 0; i < 60; i++) log.append(clientEvent(i))
    const before = startDispatcher(receiver, log)
    await log.reached(20)
    await before.stop()
    const cursorAtStop = log.cursor
    const sentBefore = receiver.requests.length
    startDispatcher(receiver, log)
    await log.reached(60)
    const offsets = new Map([...log.events].map(([offset, e]) => [e.id, offset]))
    const resent = receiver.requests.slice(sentBefore).map((r) => offsets.get(r.id) ?? 0)
    expect(Math.min(...resent)).toBeGreaterThan(cursorAtStop)
    expect(receiver.accepted.size).toBe(60)
    expect(log.violations).toEqual([])
  })

  it('stops while the log is being read, once the read returns', async () => {
    const receiver = await startReceiver(() => 'ok')
    const inner = new MemoryWebhookLog()
    let readStarted: () => void = () => undefined
    const reading = new Promise<void>((resolve) => (readStarted = resolve))
    let releaseRead: () => void = () => undefined
    const released = new Promise<void>((resolve) => (releaseRead = resolve))
    const slowLog: WebhookLog = {
      read: async (after, limit) => {
        readStarted()
        await released
        return inner.read(after, limit)
      },
      waitForMore: (after, signal) => inner.waitForMore(after, signal),
      loadCursor: () => inner.loadCursor(),
      saveCursor: (offset) => inner.saveCursor(offset),
    }
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: SECRET, log: slowLog })
    dispatcher.start()
    await reading
    const stopped = dispatcher.stop()
    releaseRead()
    await expect(stopped).resolves.toBeUndefined()
  })

  it('refuses a short secret and a URL that is not http(s)', () => {
    const log = new MemoryWebhookLog()
    expect(() => new WebhookDispatcher({ url: 'http://127.0.0.1/', secret: 'short', log })).toThrow(
      /at least 32 characters/,
    )
    expect(() => new WebhookDispatcher({ url: 'file:///etc/passwd', secret: SECRET, log })).toThrow(
      /http/,
    )
  })
})
