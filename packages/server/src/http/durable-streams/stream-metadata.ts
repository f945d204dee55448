import type { ServerResponse } from 'node:http'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { encodeOffset } from './offset-token.js'
import { CACHE_NONE } from './response-headers.js'
import { authorize, loadStream } from './stream-access.js'

/**
 * `HEAD /v1/stream/<name>` (§5.5): content type, tail offset, TTL / expiry and closure, never
 * cached. Does not reset the sliding TTL (§5.1). Needs `read` on the stream.
 */
export async function headStream(
  res: ServerResponse,
  ctx: DurableStreamsContext,
  userId: string,
  name: string,
): Promise<void> {
  await authorize(ctx, userId, name, 'read')
  const stream = await loadStream(ctx, name)
  res.statusCode = 200
  res.setHeader('Content-Type', stream.contentType)
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
 * (§4.2). Its WebSocket subscribers get STREAM_NOT_FOUND, its live HTTP readers end. Needs
 * `publish` on the stream (deleting is writing).
 */
export async function deleteStream(
  res: ServerResponse,
  ctx: DurableStreamsContext,
  userId: string,
  name: string,
): Promise<void> {
  await authorize(ctx, userId, name, 'publish')
  await loadStream(ctx, name)
  await ctx.engine.deleteStream(name)
  res.statusCode = 204
  res.end()
}
