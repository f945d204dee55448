// What bench/http-modes/run.ts and its client processes (modes-worker.ts) say to each other.

/** The transports compared: the SDK's `transport` option for each. */
export const Mode = {
  websocket: 'websocket',
  sse: 'sse',
  longPoll: 'long-poll',
} as const
export type Mode = (typeof Mode)[keyof typeof Mode]

/** The SDK `transport` option that selects `mode` (`'http'`: the HTTP session, over SSE). */
export const TRANSPORT_OPTION = {
  websocket: 'websocket',
  sse: 'http',
  'long-poll': 'long-poll',
} as const satisfies Record<Mode, string>

/** The data of one published message: its number and when it was published (monotonic ms). */
export interface Stamp {
  readonly i: number
  readonly ts: number
}

export type ModesRequest =
  | {
      readonly type: 'connect'
      readonly mode: Mode
      /** The server's http base URL. */
      readonly url: string
      /** Index of the first client of this worker: client i is user `u<i>`. */
      readonly first: number
      readonly count: number
      /** Streams each client subscribes to: the shared room, then `streamsPerClient − 1` of its own. */
      readonly streamsPerClient: number
      readonly room: string
      /** Clients being started at once in this worker. */
      readonly concurrency: number
      /** Give up (monotonic clock, ms): the clients not subscribed by then are reported. */
      readonly deadlineMs: number
    }
  /** Starts recording latencies (answered `armed`); messages before it are only checked. */
  | { readonly type: 'arm' }
  /** Answered once every client has message `total − 1` of the room, or at `deadlineMs`. */
  | { readonly type: 'await'; readonly total: number; readonly deadlineMs: number }
  /** Exactly once, in order: answered `verified` for the `total` messages published. */
  | { readonly type: 'verify'; readonly total: number }
  | { readonly type: 'close' }

export type ModesReply =
  | {
      readonly type: 'connected'
      readonly connected: number
      /** Per client: created → every stream subscribed (ms). */
      readonly latencies: readonly number[]
      /** Clients whose open state names another transport than the one asked for. */
      readonly wrongTransport: number
    }
  | { readonly type: 'armed' }
  | {
      readonly type: 'awaited'
      /** Clients holding every message. */
      readonly complete: number
      /** Room messages received by all clients so far. */
      readonly received: number
      /** Monotonic ms the last message arrived. */
      readonly lastMs: number
    }
  | {
      readonly type: 'verified'
      /** Messages some client never received. */
      readonly lost: number
      readonly duplicated: number
      readonly outOfOrder: number
      /** Publish → receipt (ms) of each message received since `arm`, per client. */
      readonly latencies: readonly number[]
      /** Connection states left for another one since `arm` (reconnects: should be 0). */
      readonly reconnects: number
    }
  | { readonly type: 'closed' }

export type ModesEvent = { readonly type: 'progress'; readonly connected: number }

/** Milliseconds of the monotonic clock shared by every process of the machine. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
