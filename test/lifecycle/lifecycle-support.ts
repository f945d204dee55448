import { createHash, createHmac } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { setTimeout as delay } from 'node:timers/promises'
import type { MsgFrame } from '@seqline/protocol'
import { allowAll } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import type { ServerSettingsInput } from '../../packages/server/src/settings/server-settings.js'
import { watchFrames } from '../support/frame-watch.js'
import { createTempDir } from '../support/temp-dir.js'
import {
  type GreetedClient,
  greet,
  publishMany,
  range,
  subscribeUntilCaughtUp,
} from '../support/wire-session.js'
import type { RawClient } from '../support/ws-test-client.js'

// What the lifecycle suites share: a server with the backend API on, the close proof as the SDK
// computes it, metrics read from `/metrics`, and polling for what periodic jobs do on their timers.

/** The backend API key of {@link startLifecycleServer} (`SEQLINE_API_KEYS` for processes). */
export const SUPPORT_KEY = 'support-key-0123456789-abcdefghijklmnopqrstuvwxyz'

/** An in-process server on port 0 with the backend API on. */
export interface LifecycleServer {
  readonly server: SeqlineServer
  readonly url: string
  readonly wsUrl: string
  close(): Promise<void>
}

/**
 * Starts `createServer` (memory store, dev auth, silent) with `settings` and {@link SUPPORT_KEY}.
 *
 * @example
 * const s = await startLifecycleServer({ clients: { forgetGraceMs: 1_500 } })
 */
export async function startLifecycleServer(
  settings: ServerSettingsInput = {},
): Promise<LifecycleServer> {
  const dir = await createTempDir('seqline-lifecycle-')
  const keysFile = dir.join('api-keys')
  await writeFile(keysFile, `${SUPPORT_KEY}\n`)
  const server = await createServer({
    store: 'memory:',
    auth: 'dev',
    authorize: allowAll,
    logLevel: 'silent',
    apiKeysFile: keysFile,
    limits: { publishRatePerSec: 100_000, publishBurst: 100_000 },
    presence: { intervalMs: 0 },
    ...settings,
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    close: async () => {
      await server.close()
      await dir.remove()
    },
  }
}

/** `GET <url><path>` with the support key, as JSON; rejects on another status than `status`. */
export async function supportGet<T = Record<string, unknown>>(
  url: string,
  path: string,
  status = 200,
): Promise<T> {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${SUPPORT_KEY}` } })
  const body = (await res.json()) as T
  if (res.status !== status) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** The delivery state of `stream` on the server at `url` (support API). */
export function streamState(
  url: string,
  stream: string,
  query = '',
): Promise<{
  head: number
  tail: number
  followers: { clientId: string; userId: string; offset: number; behind: number | null }[]
  holders: { clientId: string; userId: string; offset: number; behind: number }[]
  next: string | null
}> {
  return supportGet(url, `/v1/api/delivery/streams/${stream}${query}`)
}

/** The close proof body the SDK sends on `pagehide` (engine/close-proof.ts). */
export function closeProof(clientId: string, secret: string, ts = Date.now()): string {
  const key = createHash('sha256').update(secret).digest()
  const mac = createHmac('sha256', key).update(`seqline-close:${clientId}:${ts}`).digest()
  return JSON.stringify({ ts, mac: mac.toString('base64url') })
}

/** Sends a close proof as a beacon does (text/plain, no credentials). */
export function sendClosing(url: string, clientId: string, body: string): Promise<Response> {
  return fetch(`${url}/v1/clients/${encodeURIComponent(clientId)}/closing`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body,
  })
}

/** One scrape of `/metrics`: the value of a series (`labels` exactly), undefined when absent. */
export type MetricsScrape = (name: string, labels?: Record<string, string>) => number | undefined

/**
 * Scrapes the server's `/metrics` once, so that several series are read from the same moment.
 *
 * @example
 * const scrape = await scrapeMetrics(url)
 * scrape('seqline_clients', { state: 'closing' })
 */
export async function scrapeMetrics(url: string): Promise<MetricsScrape> {
  const lines = (await (await fetch(`${url}/metrics`)).text()).split('\n')
  return (name, labels = {}) => {
    const wanted = Object.entries(labels)
      .map(([key, value]) => `${key}="${value}"`)
      .join(',')
    const series = wanted === '' ? name : `${name}{${wanted}}`
    const line = lines.find((l) => l.startsWith(`${series} `))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  }
}

/** The value of one series of the server's `/metrics` (see {@link scrapeMetrics}). */
export async function metricValue(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return (await scrapeMetrics(url))(name, labels)
}

/**
 * Reads `read()` until `done` holds of its value (a periodic job on its own timer has run) and
 * resolves with that value; rejects after `timeoutMs` naming `what` and the last value.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline)
      throw new Error(`Not ${what} within ${timeoutMs} ms: ${JSON.stringify(value)}`)
    await delay(50)
  }
}

/** A client following a stream: connected, subscribed, and counted by until-acked (acked 0). */
export interface StreamFollower extends GreetedClient {
  /** Offsets received on the stream, in order. */
  readonly offsets: number[]
  /** Acks `offset` on the stream. */
  ack(offset: number): void
}

/**
 * Connects as `user`, subscribes to `stream` from the start and acks offset 0: from then on the
 * client follows the stream and holds what it has not acked (see docs/operations.md).
 */
export async function follow(
  wsUrl: string,
  user: string,
  stream: string,
  identity: { clientId?: string; secret?: string } = {},
): Promise<StreamFollower> {
  const greeted = await greet(wsUrl, { token: user, ...identity })
  const offsets: number[] = []
  watchFrames(greeted.client, (frame) => {
    if (frame.t === 'msg' && frame.stream === stream) offsets.push((frame as MsgFrame).offset)
  })
  await subscribeUntilCaughtUp(greeted.client, stream, 'earliest')
  const ack = (offset: number): void => greeted.client.send({ t: 'ack', stream, offset })
  ack(0)
  return { ...greeted, offsets, ack }
}

/** Publishes `count` JSON messages to `stream` as producer seqs `from`, `from + 1`, … (epoch 0). */
export async function publishCount(
  client: RawClient,
  stream: string,
  count: number,
  from = 0,
): Promise<void> {
  const replies = await publishMany(client, {
    stream,
    epoch: 0,
    seqs: range(from, count),
    data: (seq) => ({ seq }),
  })
  if (replies.some((r) => r.t !== 'puback')) throw new Error(JSON.stringify(replies))
}
