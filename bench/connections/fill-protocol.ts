// What bench/connections/fill.ts and its client processes (fill-worker.ts) say to each other.

/** The servers compared. */
export const System = {
  ws: 'ws',
  socketio: 'socketio',
  seqline: 'seqline',
} as const
export type System = (typeof System)[keyof typeof System]

export type FillRequest =
  | {
      readonly type: 'connect'
      readonly system: System
      /** ws(s) URL (ws, Seqline) or http URL (Socket.IO). */
      readonly url: string
      readonly stream: string
      /** Index of the first subscriber of this worker: subscriber i is user `u<i>`. */
      readonly first: number
      readonly count: number
      /** Connection attempts in flight at once in this worker. */
      readonly concurrency: number
      /** Local addresses to connect from, round-robin (more ephemeral ports than one address). */
      readonly sourceAddresses: readonly string[]
      /** Give up (monotonic clock, ms) — the subscribers not connected by then are reported. */
      readonly deadlineMs: number
    }
  | { readonly type: 'counters' }
  /** Start watching for the broadcast carrying `tag`; answered `armed`. */
  | { readonly type: 'expect'; readonly tag: string }
  /** Answered `received` once every subscriber has the broadcast, or after `timeoutMs`. */
  | { readonly type: 'collect'; readonly timeoutMs: number }
  | { readonly type: 'close' }

/** Frames and bytes received by a worker's subscribers, in all and by frame type. */
export interface FrameCounters {
  readonly frames: number
  readonly bytes: number
  /** Ready subscribers whose connection closed afterwards. */
  readonly dropped: number
  readonly byType: Readonly<Record<string, { readonly frames: number; readonly bytes: number }>>
}

export type FillReply =
  | {
      readonly type: 'connected'
      readonly connected: number
      /** Per subscriber: first attempt → ready (ms), retries included. */
      readonly latencies: readonly number[]
      /** Attempts that failed and were retried, by cause. */
      readonly failures: Readonly<Record<string, number>>
      readonly startedMs: number
      readonly finishedMs: number
    }
  | { readonly type: 'counters'; readonly counters: FrameCounters }
  | { readonly type: 'armed' }
  | {
      readonly type: 'received'
      /** Monotonic time (ms) each subscriber received the tagged broadcast. */
      readonly times: readonly number[]
      readonly missing: number
    }
  | { readonly type: 'closed' }

export type FillEvent = { readonly type: 'progress'; readonly connected: number }

/** Milliseconds of the monotonic clock shared by every process of the machine. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
