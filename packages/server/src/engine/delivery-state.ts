import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type {
  ClientStreamDelivery,
  FollowerPosition,
  RetentionHolder,
  RetentionPolicy,
  Store,
} from '../store/store.js'
import type { CursorLog } from './cursor-log.js'
import { type RetentionPolicies, retentionSourceLabel } from './retention-rules.js'

/** Bounds of the pages of delivery state. */
export const deliveryStateLimits = {
  /** Clients or streams per page, unless asked for fewer. */
  defaultLimit: 100,
  maxLimit: 1_000,
  /** Clients that hold an until-acked tail back, listed with a stream, unless asked for fewer. */
  defaultHolders: 10,
  maxHolders: 100,
} as const

/** One client's position on a stream, as support sees it. */
export interface FollowerState extends FollowerPosition {
  /** It acked less than the tail: messages it never acked were trimmed (its resume gets `reset`). */
  readonly truncated: boolean
}

/** A stream's delivery state: where it stands, its retention, and a page of its clients. */
export interface StreamDeliveryState {
  readonly stream: string
  readonly epoch: string
  readonly head: number
  readonly tail: number
  /** The policy the retention job applies, and where it comes from (`stream`, a rule, `default`). */
  readonly retention: { readonly policy: RetentionPolicy; readonly source: string }
  /** A page of the clients with a cursor on the stream, in client id order. */
  readonly followers: readonly FollowerState[]
  /** Until-acked streams: the following clients behind the head, lowest cursor first. */
  readonly holders: readonly RetentionHolder[]
  /** The `after` of the next page, or `null` when this page is the last. */
  readonly next: string | null
}

/** One stream of a client, as support sees it. */
export interface ClientStreamState extends ClientStreamDelivery {
  /** See {@link FollowerState.truncated}. */
  readonly truncated: boolean
}

/** A client's delivery state: who and when, and a page of its streams. */
export interface ClientDeliveryState {
  readonly clientId: string
  readonly userId: string
  readonly createdAt: number
  readonly lastSeenAt: number
  /** It said its tab closed for good and was not seen since (it is forgotten after the grace). */
  readonly closing: boolean
  readonly streams: readonly ClientStreamState[]
  readonly next: string | null
}

/** What {@link DeliveryState} reads. */
export interface DeliveryStateDeps {
  readonly store: Store
  readonly cursors: Pick<CursorLog, 'flush'>
  readonly retention: RetentionPolicies
}

/**
 * What support needs for "user X says they never got message Y" (docs/operations.md): per stream,
 * every client's acked position and how far behind the head it is, and who holds an until-acked
 * tail back; per client, its streams with what it has not acked. Acks buffered on this node are
 * written first; other nodes write theirs within one flush interval.
 */
export class DeliveryState {
  constructor(private readonly deps: DeliveryStateDeps) {}

  /** A stream's state with a page of its clients (of `userId` only, when given). */
  async ofStream(
    stream: string,
    query: {
      readonly userId?: string | undefined
      readonly after?: string | undefined
      readonly limit?: number | undefined
      readonly holders?: number | undefined
    },
  ): Promise<StreamDeliveryState> {
    const { store, cursors, retention } = this.deps
    await cursors.flush()
    const limit = query.limit ?? deliveryStateLimits.defaultLimit
    const record = await store.getStream(stream)
    const state =
      record === undefined || record.softDeleted
        ? undefined
        : await store.streamDelivery(stream, { userId: query.userId, after: query.after, limit })
    if (record === undefined || state === undefined) {
      throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'Stream not found')
    }
    const { policy, source } = retention.of(record)
    const holders =
      policy.untilAcked === true
        ? await store.retentionHolders(stream, query.holders ?? deliveryStateLimits.defaultHolders)
        : []
    return {
      stream,
      epoch: state.epoch,
      head: state.head,
      tail: state.tail,
      retention: { policy, source: retentionSourceLabel(source) },
      followers: state.followers.map((f) => ({
        ...f,
        truncated: f.following && f.offset + 1 < state.tail,
      })),
      holders,
      next: nextAfter(state.followers, limit, (f) => f.clientId),
    }
  }

  /** A client's state with a page of its streams; CLIENT_UNKNOWN when it does not exist. */
  async ofClient(
    clientId: string,
    query: { readonly after?: string | undefined; readonly limit?: number | undefined },
  ): Promise<ClientDeliveryState> {
    const { store, cursors } = this.deps
    await cursors.flush()
    const client = await store.getClient(clientId)
    if (client === undefined) throw new SeqlineError(ErrorCode.CLIENT_UNKNOWN, 'Unknown client id')
    const limit = query.limit ?? deliveryStateLimits.defaultLimit
    const streams = await store.clientDelivery(clientId, { after: query.after, limit })
    return {
      clientId,
      userId: client.userId,
      createdAt: client.createdAt,
      lastSeenAt: client.lastSeenAt,
      closing: client.closingAt !== null && client.lastSeenAt <= client.closingAt,
      streams: streams.map((s) => ({
        ...s,
        truncated: s.following && s.tail !== null && s.offset + 1 < s.tail,
      })),
      next: nextAfter(streams, limit, (s) => s.stream),
    }
  }
}

function nextAfter<T>(page: readonly T[], limit: number, key: (item: T) => string): string | null {
  const last = page.at(-1)
  return page.length < limit || last === undefined ? null : key(last)
}
