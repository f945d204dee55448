import { type SeqlineClient, type WebSocketConstructor, createClient } from '@seqline/client'
import { WebSocket } from 'ws'
import { startServerProcess } from '../../support/server-process.js'
import type {
  ChaosPublisher,
  ChaosRetention,
  ChaosSubscriber,
  ChaosSystem,
  PublisherOptions,
  ServerControl,
  ServerStartOptions,
  ServerStreamState,
  SubscriberOptions,
} from './chaos-system.js'
import { type ChaosPayload, DeliveryLog } from './delivery-log.js'
import { TabStorage } from './tab-storage.js'

/**
 * The transport chaos runs use: `websocket` (default) — the path the faults and the peer
 * comparison are about; CHAOS_TRANSPORT=auto runs the SDK's default (WebSocket with HTTP fallback).
 */
type ChaosTransport = 'websocket' | 'auto' | 'http'
const defaultTransport = (process.env.CHAOS_TRANSPORT ?? 'websocket') as ChaosTransport

// Client settings for chaos runs: reconnect fast (faults come every few hundred ms) and ack soon.
const clientSettings = (transport: ChaosTransport) =>
  ({
    transport,
    backoff: { baseMs: 50, maxMs: 500 },
    ackDelayMs: 20,
    connectTimeoutMs: 3_000,
    environment: null,
  }) as const

/**
 * Seqline under test: the built server (`seqline serve`) as a child process, SDK clients over
 * `transport`.
 */
export function seqlineSystemOver(transport: ChaosTransport): ChaosSystem {
  const clientDefaults = clientSettings(transport)
  return {
    name: transport === 'websocket' ? 'seqline' : `seqline/${transport}`,
    features: new Set(['reload', 'duplicate-tab', 'retention', 'slow-consumer']),

    async startServer(options: ServerStartOptions): Promise<ServerControl> {
      const server = await startServerProcess({
        port: options.port,
        args: [
          '--heartbeat-ms',
          String(options.heartbeatMs),
          '--publish-rate',
          '100000',
          '--publish-burst',
          '100000',
          '--log-level',
          'info',
          ...retentionFlags(options.retention),
        ],
      })
      return {
        get pid() {
          return server.pid
        },
        kill9: () => server.kill9(),
        restart: async () => {
          await server.restart()
        },
        dispose: () => server.dispose(),
        streamState: (stream) => streamStateOf(server.url, stream),
      }
    },

    subscriber: (options) => new SeqlineSubscriber(options, new TabStorage(), clientDefaults),

    publisher(options: PublisherOptions): ChaosPublisher {
      const client = createClient({ ...clientDefaults, url: options.url, token: options.name })
      const stream = client.stream<ChaosPayload>(options.stream)
      return {
        publish: async (payload) => ({ offset: (await stream.publish(payload)).offset }),
        close: () => client.close(),
      }
    },
  }
}

/** `seqline serve` flags for a scenario's retention (none: the default, 7 days). */
function retentionFlags(retention: ChaosRetention | undefined): string[] {
  if (retention === undefined) return []
  const interval = ['--retention-interval-ms', String(retention.intervalMs)]
  switch (retention.kind) {
    case 'max-count':
      return ['--retention-max-count', String(retention.maxCount), ...interval]
    case 'until-acked':
      return [
        '--retention-rules',
        `room:*=until-acked,max-age-ms=${retention.maxAgeMs}`,
        ...interval,
      ]
  }
}

/**
 * Head and tail (`GET /v1/history`) and the clients following (`GET /v1/cursors`: the acked
 * positions in the current epoch) of `stream`, asked of the server itself.
 */
async function streamStateOf(url: string, stream: string): Promise<ServerStreamState> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      headers: { authorization: 'Bearer chaos-observer' },
      signal: AbortSignal.timeout(5_000),
    })
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`)
    return (await res.json()) as T
  }
  const history = await get<{ head: number; tail: number }>(`/v1/history/${stream}?limit=1`)
  const { cursors } = await get<{ cursors: { offset: number }[] }>(`/v1/cursors/${stream}`)
  const acks = cursors.map((c) => c.offset)
  return {
    head: history.head,
    tail: history.tail,
    following: acks.length,
    lowestAck: acks.length === 0 ? undefined : Math.min(...acks),
  }
}

/** Seqline over the transport CHAOS_TRANSPORT names (default: WebSocket). */
export const seqlineSystem: ChaosSystem = seqlineSystemOver(defaultTransport)

/**
 * One SDK client following one stream, like a browser tab: `from: 'earliest'`, a `snapshot()` that
 * reads the stream's head over HTTP (`GET /v1/history/<stream>`), and every callback recorded.
 */
class SeqlineSubscriber implements ChaosSubscriber {
  readonly ready: Promise<void>
  readonly #client: SeqlineClient
  #closed = false

  constructor(
    private readonly options: SubscriberOptions,
    private readonly storage: TabStorage,
    private readonly settings: ReturnType<typeof clientSettings>,
  ) {
    const { url, stream, log } = options
    this.#client = createClient({
      ...settings,
      url,
      token: userOf(options.name),
      storage,
      WebSocket: tracedWebSocket(log),
      ...(options.clientHeartbeatMs === undefined
        ? {}
        : { heartbeatMs: options.clientHeartbeatMs }),
    })
    const subscription = this.#client.stream<ChaosPayload>(stream).subscribe({
      from: 'earliest',
      onMessage: (m) => {
        if (this.#closed) log.lateCallbacks += 1
        log.deliver({ payload: m.data, offset: m.offset })
      },
      // A snapshot is app state as of a position; here the app state is "everything up to the
      // head", and the log counts the messages it contains as recovered, not as delivered.
      snapshot: async () => {
        const res = await fetch(`${url}/v1/history/${stream}?limit=1`, {
          headers: { authorization: `Bearer ${userOf(options.name)}` },
          signal: AbortSignal.timeout(2_000),
        })
        if (!res.ok) throw new Error(`snapshot: HTTP ${res.status}`)
        const body = (await res.json()) as { epoch: string; head: number }
        return { position: { epoch: body.epoch, offset: body.head } }
      },
      onReset: (event) =>
        log.reset(event.snapshot === undefined ? undefined : event.position.offset),
    })
    this.ready = subscription.ready.then(() => undefined)
    // Rejects with CLIENT_CLOSED when the page is dropped before its first caughtUp: expected.
    this.ready.catch(() => {})
    this.#client.on('error', (error) => log.note(`error: ${String(error)}`))
    this.#client.on('state', ({ to }) => {
      if (to.kind === 'open') log.opened(to.transport)
      else if (to.kind !== 'reconnecting' || to.phase === 'waiting') log.note(`state ${to.kind}`)
    })
  }

  reload(): ChaosSubscriber {
    // The page goes away: its pagehide flush may or may not finish before the new page starts.
    this.#closed = true
    void this.#client.close()
    return new SeqlineSubscriber(this.options, this.storage, this.settings)
  }

  async duplicate(
    name: string,
    url: string,
  ): Promise<{ subscriber: ChaosSubscriber; log: DeliveryLog }> {
    const storage = this.storage.duplicate()
    // What the copied tab holds as processed: it must get exactly what follows.
    const probe = createClient({
      ...this.settings,
      url: 'http://127.0.0.1:9',
      token: 'probe',
      storage: storage.duplicate(),
    })
    const position = await probe.stream(this.options.stream).position()
    await probe.close()
    const log = new DeliveryLog(name, position?.offset ?? 0)
    const subscriber = new SeqlineSubscriber(
      { ...this.options, url, name, log },
      storage,
      this.settings,
    )
    return { subscriber, log }
  }

  close(): Promise<void> {
    this.#closed = true
    return this.#client.close()
  }
}

/**
 * A `ws` WebSocket that notes every frame but `msg` / `pong` / `ping` in the log: when a run fails,
 * its last notes show what the client and the server said to each other.
 */
function tracedWebSocket(log: DeliveryLog): WebSocketConstructor {
  const quiet = /^\{"t":"(msg|pong|ping|presence|presenceDiff)"/
  return class TracedWebSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      this.on('message', (data) => {
        const text = String(data)
        if (!quiet.test(text)) log.note(`← ${text.slice(0, 160)}`)
      })
    }

    override send(data: string): void {
      if (!quiet.test(data))
        log.note(`→ ${data.replace(/"(token|secret)":"[^"]*"/g, '"$1":…').slice(0, 160)}`)
      super.send(data)
    }
  } as unknown as WebSocketConstructor
}

/** Tabs of one subscriber share a user (dev auth: the token is the user id). */
function userOf(name: string): string {
  return name.replace(/[#~].*$/, '')
}
