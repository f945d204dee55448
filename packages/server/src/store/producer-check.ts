import { ErrorCode } from '@seqline/protocol'
import type { AppendResult, ProducerRef, ProducerState } from './store.js'

/** What to do with a publish given the producer's stored state. */
export type ProducerVerdict =
  | { readonly kind: 'accept' }
  | { readonly kind: 'duplicate'; readonly offset: number; readonly lastSeq: number }
  | Extract<AppendResult, { kind: 'rejected' }>

/**
 * The producer validation of the Durable Streams protocol (§5.2.1), shared by every store and so
 * by the WebSocket `pub` and HTTP `POST` alike. It is pure: the store commits the new state in the
 * same transaction as the append.
 *
 * A duplicate of the last accepted seq reports that publish's last offset; an older duplicate
 * reports offset 0 unless the store can look it up (see `Store.append`).
 */
export function checkProducer(state: ProducerState | undefined, ref: ProducerRef): ProducerVerdict {
  if (state === undefined) {
    if (ref.seq !== 0) return seqGap(0, ref.seq)
    return { kind: 'accept' }
  }
  if (ref.epoch < state.epoch) {
    return {
      kind: 'rejected',
      code: ErrorCode.PRODUCER_FENCED,
      message: `producer epoch ${ref.epoch} is stale; current epoch is ${state.epoch}`,
      producerEpoch: state.epoch,
    }
  }
  if (ref.epoch > state.epoch) {
    if (ref.seq !== 0) {
      return {
        kind: 'rejected',
        code: ErrorCode.INVALID_PRODUCER,
        message: `a new producer epoch must start at seq 0, got ${ref.seq}`,
      }
    }
    return { kind: 'accept' }
  }
  if (ref.seq <= state.lastSeq) {
    return {
      kind: 'duplicate',
      offset: ref.seq === state.lastSeq ? state.lastOffset : 0,
      lastSeq: state.lastSeq,
    }
  }
  if (ref.seq === state.lastSeq + 1) return { kind: 'accept' }
  return seqGap(state.lastSeq + 1, ref.seq)
}

function seqGap(expected: number, received: number): ProducerVerdict {
  return {
    kind: 'rejected',
    code: ErrorCode.PRODUCER_SEQ_GAP,
    message: `producer seq ${received} skips ahead; expected ${expected}`,
    expectedSeq: expected,
    receivedSeq: received,
  }
}
