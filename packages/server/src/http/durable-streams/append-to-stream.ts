import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { AppendResult, ProducerRef } from '../../store/store.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { splitJsonMessages } from './json-messages.js'
import { encodeOffset } from './offset-token.js'
import { httpProducerId } from './producer-scope.js'
import { readBody } from '../read-body.js'
import { header, parseProducer, wantsClose } from './request-headers.js'
import { authorize, isJsonStream, loadStream, touch } from './stream-access.js'

/**
 * `POST /v1/stream/<name>` (§5.2, §5.2.1, §5.3): appends the body — one message, or in JSON mode
 * one per element of a top-level array — and/or closes the stream. Goes through `engine.append`
 * like a WebSocket `pub`: group-committed, producer-validated, fanned out to subscribers, and
 * answered only once durable (G1). Needs `publish` on the stream.
 */
export async function appendToStream(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DurableStreamsContext,
  userId: string,
  name: string,
): Promise<void> {
  await authorize(ctx, userId, name, 'publish')
  const ref = parseProducer(req)
  const close = wantsClose(req)
  const streamSeq = header(req, 'stream-seq')
  const contentType = header(req, 'content-type')
  const body = await readBody(req, ctx.options.maxBodyBytes)
  if (body.length === 0 && !close) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'An append needs a body (or Stream-Closed: true)')
  }
  if (body.length > 0 && (contentType === undefined || contentType.trim() === '')) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Content-Type is required with a body')
  }
  const stream = await loadStream(ctx, name)

  let payloads: Uint8Array[] = []
  if (body.length > 0) {
    // Parse JSON only when the append can succeed: closure and a content type mismatch take
    // precedence over the body's validity (§5.2 "Error Precedence"); the store reports them.
    const parse =
      !stream.closed && isJsonStream(stream.contentType) && isJsonStream(contentType ?? '')
    payloads = parse ? splitJsonMessages(body) : [body]
    if (payloads.length === 0) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'An empty JSON array appends nothing (§9.1.3)')
    }
  }
  const producer: ProducerRef | undefined =
    ref === undefined ? undefined : { ...ref, id: await producerIdOf(ctx, userId, ref.id) }
  const result = await ctx.engine.append({
    stream: name,
    payloads,
    from: userId,
    producer,
    streamSeq,
    close,
    contentType: body.length > 0 ? contentType : undefined,
  })
  if (result.kind !== 'rejected') await touch(ctx, stream)
  await sendAppendResult(res, ctx, name, ref, payloads.length === 0, result)
}

async function sendAppendResult(
  res: ServerResponse,
  ctx: DurableStreamsContext,
  name: string,
  ref: ProducerRef | undefined,
  closeOnly: boolean,
  result: AppendResult,
): Promise<void> {
  if (result.kind === 'appended') {
    // 200 for a producer's new data, 204 otherwise (§5.2, §5.2.1); a close-only request writes
    // no data, so it is 204 with or without producer (§5.3).
    res.statusCode = ref !== undefined && !closeOnly ? 200 : 204
    res.setHeader('Stream-Next-Offset', encodeOffset(result.epoch, result.head))
    if (result.closed) res.setHeader('Stream-Closed', 'true')
    if (ref !== undefined) {
      res.setHeader('Producer-Epoch', String(ref.epoch))
      res.setHeader('Producer-Seq', String(ref.seq))
    }
    res.end()
    return
  }
  if (result.kind === 'duplicate') {
    // Idempotent success: nothing written; Producer-Seq is the highest accepted (§5.2.1).
    res.statusCode = 204
    if (result.offset > 0)
      res.setHeader('Stream-Next-Offset', encodeOffset(result.epoch, result.offset))
    if (result.closed) res.setHeader('Stream-Closed', 'true')
    if (ref !== undefined) {
      res.setHeader('Producer-Epoch', String(ref.epoch))
      res.setHeader('Producer-Seq', String(result.lastSeq))
    }
    res.end()
    return
  }
  switch (result.code) {
    case ErrorCode.STREAM_CLOSED: {
      // §5.2: a 409 for a closed stream says so in headers, with the final offset.
      const stream = await ctx.engine.getStream(name)
      res.setHeader('Stream-Closed', 'true')
      if (stream !== undefined)
        res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, stream.head))
      break
    }
    case ErrorCode.PRODUCER_FENCED:
      if (result.producerEpoch !== undefined)
        res.setHeader('Producer-Epoch', String(result.producerEpoch))
      break
    case ErrorCode.PRODUCER_SEQ_GAP:
      if (result.expectedSeq !== undefined)
        res.setHeader('Producer-Expected-Seq', String(result.expectedSeq))
      if (result.receivedSeq !== undefined)
        res.setHeader('Producer-Received-Seq', String(result.receivedSeq))
      break
  }
  throw new SeqlineError(result.code, result.message, {
    details: {
      ...(result.expectedSeq === undefined ? {} : { expectedSeq: result.expectedSeq }),
      ...(result.producerEpoch === undefined ? {} : { producerEpoch: result.producerEpoch }),
    },
  })
}

/**
 * The engine's producer id of an HTTP append. A `Producer-Id` that names a client of the
 * authenticated user is that client's own producer — the state its WebSocket `pub` frames use —
 * so that the SDK's HTTP fallback continues the same (epoch, seq) numbering: a publish committed
 * over one door and retried over the other is then acknowledged as a duplicate instead of being
 * appended twice (G4). Any other id (including another user's client id) stays scoped to the user
 * (producer-scope.ts), so no one can fence or replay someone else's producer.
 */
async function producerIdOf(
  ctx: DurableStreamsContext,
  userId: string,
  producerId: string,
): Promise<string> {
  if (producerId.startsWith('c_')) {
    const client = await ctx.engine.store.getClient(producerId)
    if (client !== undefined && client.userId === userId) return producerId
  }
  return httpProducerId(userId, producerId)
}
