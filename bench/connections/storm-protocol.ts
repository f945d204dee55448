// What bench/connections/storm.ts and its client processes (storm-worker.ts) say to each other.
import type { Distribution } from '../support/distribution.js'

export type StormRequest =
  | {
      readonly type: 'start'
      /** The server's http base URL. */
      readonly url: string
      readonly stream: string
      /** Client i is user `u<i>`. */
      readonly first: number
      readonly count: number
      /** Clients starting at once in this worker (the next starts when one is subscribed). */
      readonly concurrency: number
      readonly sourceAddresses: readonly string[]
      readonly deadlineMs: number
    }
  /** Answered once every client has received messages 0 … count-1 (or at the deadline). */
  | { readonly type: 'await-messages'; readonly count: number; readonly deadlineMs: number }
  /** From now on, record how each client loses its connection and gets back. */
  | { readonly type: 'arm' }
  /** Answered once every client is open and caught up again (or at the deadline). */
  | { readonly type: 'await-recovered'; readonly deadlineMs: number }
  /** Checks that every client received messages 0 … total-1 exactly once, in order. */
  | { readonly type: 'verify'; readonly total: number }
  | { readonly type: 'close' }

/** How the clients of one worker came back after the server was killed. */
export interface StormRecovery {
  readonly clients: number
  readonly recovered: number
  /** Per recovered client: monotonic time (ms) it was last open and caught up. */
  readonly caughtUpAt: readonly number[]
  /** Per client: monotonic time its connection was lost. */
  readonly lostAt: readonly number[]
  /** Per recovered client: dials from the loss until open, the successful one included. */
  readonly dials: readonly number[]
  /** Successful dials: dial → `welcome` (ms). */
  readonly connectMs: readonly number[]
  /** `open` → caught up (`sub` → presence → replay → `caughtUp`), ms. */
  readonly subscribeMs: readonly number[]
  /** Why connections were lost or attempts failed, by cause. */
  readonly causes: Readonly<Record<string, number>>
  /** Clients that were caught up once after the loss and then lost their connection again. */
  readonly relapses: number
  /** This client process's event-loop delay since `arm` (ms): how late it saw what arrived. */
  readonly eventLoopDelay: { readonly p50: number; readonly p99: number; readonly max: number }
}

export type StormReply =
  | {
      readonly type: 'started'
      readonly ready: number
      readonly latencies: readonly number[]
      readonly startedMs: number
      readonly finishedMs: number
    }
  | { readonly type: 'messages'; readonly complete: number; readonly behind: number }
  | { readonly type: 'armed' }
  | { readonly type: 'recovered'; readonly recovery: StormRecovery }
  | {
      readonly type: 'verified'
      readonly lost: number
      readonly duplicated: number
      readonly outOfOrder: number
      readonly clientsWithProblems: number
    }
  | { readonly type: 'closed' }

export type StormEvent = {
  readonly type: 'progress'
  readonly ready: number
  readonly open: number
  readonly caughtUp: number
}

/** Summaries the orchestrator computes from the workers' raw samples. */
export interface StormSummary {
  readonly connectMs: Distribution
  readonly subscribeMs: Distribution
  readonly dials: Distribution
}
