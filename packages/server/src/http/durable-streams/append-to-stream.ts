import type { ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { isJsonMediaType } from '../../media-type.js'
import type { AppendResult, ProducerRef } from '../../store/store.js'
import type { RouteContext } from '../route.js'
import { readBody } from '../read-body.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { splitJsonMessages } from './json-messages.js'
import { encodeOffset } from './offset-token.js'
import { httpProducerId } from './producer-scope.js'
import { header, parseProducer, wantsClose } from './request-headers.js'
import { loadStream, touch } from './stream-access.js'

/**
 * `POST /v1/stream/<name>` (§5.2, §5.2.1, §5.3): appends the body — one message, or in JSON mode
 * one per element of a top-level array — and/or closes the stream. It passes the same admission
 * as a WebSocket `pub` (authorization, the publisher's rate — one token per message — and the
 * JSON depth bound; the size bound is the body limit), then `engine.append`: group-committed,
 * producer-validated, fanned out to subscribers, and answered only once durable (G1). Needs
 * `publish`, and `manage` to close the stream.
 */
export async function appendToStream(ctx: RouteContext, ds: DurableStreamsContext): Promise<void> {
  const { req, res, principal } = ctx
  const name = ctx.params['stream'] as string
  // Authorised before the stream is looked up: a refused request learns nothing about it (G8).
  await ds.engine.authorizer.check(principal, name, 'publish')
  const close = wantsClose(req)
  if (close) await ds.engine.authorizer.check(principal, name, 'manage')
  const ref = parseProducer(req)
  if (ref !== undefined && Buffer.byteLength(ref.id) > ds.settings.maxProducerIdBytes) {
    throw new SeqlineError(
      ErrorCode.INVALID_PRODUCER,
      `Producer-Id is longer than ${ds.settings.maxProducerIdBytes} bytes`,
    )
  }
  const streamSeq = header(req, 'stream-seq')
  const contentType = header(req, 'content-type')
  const body = await readBody(req, ds.settings.maxBodyBytes)
  if (body.length === 0 && !close) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'An append needs a body (or Stream-Closed: true)')
  }
  if (body.length > 0 && (contentType === undefined || contentType.trim() === '')) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Content-Type is required with a body')
  }
  const stream = await loadStream(ds, name)

  let payloads: Uint8Array[] = []
  if (body.length > 0) {
    // Parse JSON only when the append can succeed: closure and a content type mismatch take
    // precedence over the body's validity (§5.2 "Error Precedence"); the store reports them.
    const parse =
      !stream.closed && isJsonMediaType(stream.contentType) && isJsonMediaType(contentType ?? '')
    if (parse) ds.engine.admission.checkJsonText(body.toString('utf8'))
    payloads = parse ? splitJsonMessages(body) : [body]
    if (payloads.length === 0) {
      throw new SeqlineError(ErrorCode.BAD_REQUEST, 'An empty JSON array appends nothing (§9.1.3)')
    }
  }
  const producerId = ref === undefined ? undefined : httpProducerId(principal.userId, ref.id)
  if (payloads.length > 0) {
    // The same rate as WebSocket publishes, spent from the user's budget.
    ds.engine.admission.rate({ principal, rateKey: `user:${principal.userId}` }, payloads.length)
  }
  const producer: ProducerRef | undefined =
    ref === undefined || producerId === undefined ? undefined : { ...ref, id: producerId }
  const result = await ds.engine.streams.append({
    stream: name,
    payloads,
    from: principal.userId,
    producer,
    streamSeq,
    close,
    contentType: body.length > 0 ? contentType : undefined,
  })
  if (result.kind !== 'rejected') await touch(ds, stream)
  await sendAppendResult(res, ds, name, ref, payloads.length === 0, result)
}

async function sendAppendResult(
  res: ServerResponse,
  ds: DurableStreamsContext,
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
      const stream = await ds.engine.streams.get(name)
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
