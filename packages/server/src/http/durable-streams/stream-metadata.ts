import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { RouteContext } from '../route.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { encodeOffset } from './offset-token.js'
import { CACHE_NONE, setContentHeaders } from './response-headers.js'
import { loadStream } from './stream-access.js'

/**
 * `HEAD /v1/stream/<name>` (§5.5): content type, tail offset, TTL / expiry and closure, never
 * cached. Does not reset the sliding TTL (§5.1). Needs `read` on the stream.
 */
export async function headStream(ctx: RouteContext, ds: DurableStreamsContext): Promise<void> {
  const { res } = ctx
  const name = ctx.params['stream'] as string
  await ds.engine.authorizer.check(ctx.principal, name, 'read')
  const stream = await loadStream(ds, name)
  res.statusCode = 200
  setContentHeaders(res, stream.contentType)
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, stream.head))
  if (stream.ttlSeconds !== null) res.setHeader('Stream-TTL', String(stream.ttlSeconds))
  if (stream.expiresAt !== null) {
    res.setHeader('Stream-Expires-At', new Date(stream.expiresAt).toISOString())
  }
  if (stream.closed) res.setHeader('Stream-Closed', 'true')
  res.setHeader('ETag', `"${stream.epoch}:-1:${stream.head}${stream.closed ? ':c' : ''}"`)
  res.setHeader('Cache-Control', CACHE_NONE)
  res.end()
}

/**
 * `DELETE /v1/stream/<name>` (§5.4): deletes the stream — soft-deletes it while forks reference it
 * (§4.2). Its subscribers get STREAM_NOT_FOUND, its live HTTP readers end, on every node. Needs
 * `manage` on the stream (F6: being allowed to publish is not being allowed to destroy).
 */
export async function deleteStream(ctx: RouteContext, ds: DurableStreamsContext): Promise<void> {
  const name = ctx.params['stream'] as string
  await ds.engine.authorizer.check(ctx.principal, name, 'manage')
  await loadStream(ds, name)
  if (!(await ds.engine.streams.delete(name))) {
    throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'Stream not found')
  }
  ctx.res.statusCode = 204
  ctx.res.end()
}
