import type { ResetReason } from '@seqline/protocol'
import type { StreamRecord } from '../store/store.js'

/** Where a subscription starts, once checked against the stream. */
export type StartDecision =
  | { readonly kind: 'replay'; readonly position: number; readonly recovered: boolean }
  | { readonly kind: 'reset'; readonly reason: ResetReason }

/**
 * Decides whether a requested position can be resumed (DESIGN §5: all-or-nothing replay).
 * A position equal to the head is always resumable, even when its message was trimmed: the
 * client has everything. Below the tail or from another epoch → reset, never a partial replay.
 * Offset 0 — "nothing processed yet", as a subscriber of a stream that did not exist yet holds it
 * (epoch `''`) — is the start of every history: it resumes while nothing was trimmed.
 */
export function resolveStart(
  stream: Pick<StreamRecord, 'epoch' | 'head' | 'tail'>,
  from: 'latest' | 'earliest' | { readonly epoch: string; readonly offset: number },
): StartDecision {
  if (from === 'latest') return { kind: 'replay', position: stream.head, recovered: false }
  if (from === 'earliest') return { kind: 'replay', position: stream.tail - 1, recovered: false }
  if (from.offset === 0) {
    return stream.tail <= 1
      ? { kind: 'replay', position: 0, recovered: true }
      : { kind: 'reset', reason: from.epoch === stream.epoch ? 'truncated' : 'epoch' }
  }
  if (from.epoch !== stream.epoch) return { kind: 'reset', reason: 'epoch' }
  if (from.offset > stream.head) return { kind: 'reset', reason: 'ahead' }
  if (from.offset === stream.head) return { kind: 'replay', position: from.offset, recovered: true }
  if (from.offset < stream.tail - 1) return { kind: 'reset', reason: 'truncated' }
  return { kind: 'replay', position: from.offset, recovered: true }
}
