import type { ChaosPayload, DeliveryLog } from './delivery-log.js'

/**
 * What a chaos run needs from the messaging system under test: Seqline here, Socket.IO and a raw
 * `ws` broadcast in bench/chaos-peers. The run, the faults and the scoring are the same for all.
 */
export interface ChaosSystem {
  readonly name: string
  /** Scenario features this system has at all (peers have no reload, snapshot or retention). */
  readonly features: ReadonlySet<ChaosFeature>
  startServer(options: ServerStartOptions): Promise<ServerControl>
  /** A subscriber connecting through `url` (its fault proxy) and recording into `log`. */
  subscriber(options: SubscriberOptions): ChaosSubscriber
  /** A publisher connecting through `url` that retries every publish until it is acknowledged. */
  publisher(options: PublisherOptions): ChaosPublisher
}

/** Scenario features beyond plain faults. */
export type ChaosFeature = 'reload' | 'duplicate-tab' | 'retention' | 'slow-consumer'

export interface ServerStartOptions {
  readonly port: number
  readonly heartbeatMs: number
  readonly retention?: ChaosRetention
}

/** The retention a scenario runs the server with, trimmed every `intervalMs`. */
export type ChaosRetention =
  /** Keep only the last `maxCount` messages per stream. */
  | { readonly kind: 'max-count'; readonly maxCount: number; readonly intervalMs: number }
  /**
   * Keep a message until every client following the stream acked it, but no longer than
   * `maxAgeMs` (the age cap).
   */
  | { readonly kind: 'until-acked'; readonly maxAgeMs: number; readonly intervalMs: number }

/** Where a stream stands on the server, read directly (not through a fault proxy). */
export interface ServerStreamState {
  readonly head: number
  /** Lowest retained offset: `head + 1` once everything is trimmed. */
  readonly tail: number
  /** Clients following the stream: those with an ack in its current epoch. */
  readonly following: number
  /** The lowest offset a following client acked; undefined when none follows. */
  readonly lowestAck: number | undefined
}

/** The server process: killed with SIGKILL and restarted on the same port and data. */
export interface ServerControl {
  readonly pid: number
  kill9(): Promise<void>
  restart(): Promise<void>
  dispose(): Promise<void>
  /** The stream's state on the server (systems with retention). */
  streamState?(stream: string): Promise<ServerStreamState>
}

export interface SubscriberOptions {
  readonly url: string
  readonly stream: string
  readonly name: string
  readonly log: DeliveryLog
  /** Overrides the client's heartbeat (a consumer that stops reading must not notice by itself). */
  readonly clientHeartbeatMs?: number
}

export interface ChaosSubscriber {
  /** Resolves once subscribed (the first `caughtUp` / connect). */
  readonly ready: Promise<void>
  /** The page reloads: this object is dropped and a new one starts on the same storage. */
  reload?(): ChaosSubscriber
  /**
   * The tab is duplicated: a new instance starts on a copy of the per-tab storage (and the shared
   * rest), recording into a new log that expects what follows the copied position.
   */
  duplicate?(name: string, url: string): Promise<{ subscriber: ChaosSubscriber; log: DeliveryLog }>
  close(): Promise<void>
}

export interface PublisherOptions {
  readonly url: string
  readonly stream: string
  readonly name: string
}

export interface ChaosPublisher {
  /** Resolves once acknowledged by the server; `offset` where the system assigns one. */
  publish(payload: ChaosPayload): Promise<{ offset: number | undefined }>
  close(): Promise<void>
}
