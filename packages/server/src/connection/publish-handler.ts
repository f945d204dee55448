import type { PubFrame, ServerFrame } from '@seqline/protocol'
import type { EngineSession } from '../engine/session.js'
import type { AppendResult } from '../store/store.js'
import { toSeqlineError } from './client-error.js'
import type { ConnectionPort } from './connection-port.js'

/**
 * Handles a `pub` frame: resolves once the session admitted it, so the next frame waits for this
 * admission but not for the commit; the `puback` or `nack` goes out whenever the commit lands (G1).
 */
export async function publish(
  session: EngineSession,
  frame: PubFrame,
  port: ConnectionPort,
): Promise<void> {
  let admitted: Awaited<ReturnType<EngineSession['publish']>>
  try {
    admitted = await session.publish(frame)
  } catch (err) {
    nack(frame, err, port)
    return
  }
  // Enqueued in frame order; the ack goes out whenever the commit lands.
  admitted.committed.then(
    (result) => port.send(publishReply(frame, result)),
    (err: unknown) => nack(frame, err, port),
  )
}

/** Refuses a `pub` frame with the error's code (and its details, e.g. `expectedSeq`). */
export function nack(frame: PubFrame, err: unknown, port: ConnectionPort): void {
  const e = toSeqlineError(err, port.ctx.logger, port.connection.id)
  port.send({
    t: 'nack',
    stream: frame.stream,
    seq: frame.seq,
    code: e.code,
    message: e.message,
    ...(e.details ?? {}),
  })
}

/** The `puback` (or `nack`, for a refusal by the store) of a committed publish. */
function publishReply(frame: PubFrame, result: AppendResult): ServerFrame {
  if (result.kind === 'appended') {
    return {
      t: 'puback',
      stream: frame.stream,
      seq: frame.seq,
      offset: result.messages.at(-1)?.offset ?? result.head,
      epoch: result.epoch,
    }
  }
  if (result.kind === 'duplicate') {
    return {
      t: 'puback',
      stream: frame.stream,
      seq: frame.seq,
      offset: result.offset,
      epoch: result.epoch,
      duplicate: true,
    }
  }
  return {
    t: 'nack',
    stream: frame.stream,
    seq: frame.seq,
    code: result.code,
    message: result.message,
    ...(result.expectedSeq === undefined ? {} : { expectedSeq: result.expectedSeq }),
    ...(result.producerEpoch === undefined ? {} : { producerEpoch: result.producerEpoch }),
  }
}
