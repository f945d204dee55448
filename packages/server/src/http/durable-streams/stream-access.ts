import type { IncomingMessage } from 'node:http'
import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import { type AuthorizeAction, type Principal, toPrincipal } from '../../auth/authenticator.js'
import { isExpired } from '../../store/store-rules.js'
import type { StreamRecord } from '../../store/store.js'
import { readBearerToken } from '../bearer-token.js'
import type { DurableStreamsContext } from './durable-streams-context.js'

/** Where Durable Streams live (DESIGN §6). */
export const STREAM_PATH_PREFIX = '/v1/stream/'

/**
 * The stream name of a `/v1/stream/<name>` path (names may contain `/`), or of a bare name (a
 * `Stream-Forked-From` value may be either). Throws INVALID_STREAM_NAME (400).
 */
export function streamNameOf(path: string): string {
  const raw = path.startsWith(STREAM_PATH_PREFIX) ? path.slice(STREAM_PATH_PREFIX.length) : path
  let name: string
  try {
    name = decodeURIComponent(raw)
  } catch {
    name = ''
  }
  if (!isValidStreamName(name)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  return name
}

/**
 * The user of a request (DESIGN §8): `Authorization: Bearer`, or for GET/HEAD (EventSource cannot
 * set headers) the `access_token` query parameter or `seqline_token` cookie. Without any token the
 * request is UNAUTHENTICATED, unless the server runs with `--auth none`.
 */
export async function authenticate(
  req: IncomingMessage,
  ctx: DurableStreamsContext,
): Promise<Principal> {
  const token = readBearerToken(req)
  if (token === undefined) {
    if (ctx.anonymousUser !== undefined && req.headers.authorization === undefined) {
      return { userId: ctx.anonymousUser, claims: {} }
    }
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'A bearer token is required')
  }
  try {
    return toPrincipal(await ctx.authenticate(token))
  } catch (err) {
    // Whatever a custom hook throws, the client learns only that the token was refused.
    if (!(err instanceof SeqlineError)) ctx.logger.error({ err }, 'authenticate hook failed')
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid token', { cause: err })
  }
}

/** Throws FORBIDDEN unless `userId` may do `action` on `stream` (checked before any lookup, G8). */
export function authorize(
  ctx: DurableStreamsContext,
  userId: string,
  stream: string,
  action: AuthorizeAction,
): Promise<void> {
  return ctx.engine.authorize(userId, stream, action, { claims: ctx.claims ?? {} })
}

/**
 * The stream as a Durable Streams client may see it: STREAM_NOT_FOUND (404) when it does not
 * exist, GONE (410) when it is soft-deleted (§4.2). A stream past its TTL or expiry is deleted
 * here and then (§5.1), so that no request ever sees it, however late the expiry job runs.
 */
export async function loadStream(ctx: DurableStreamsContext, name: string): Promise<StreamRecord> {
  let stream = await ctx.engine.getStream(name)
  if (stream !== undefined && !stream.softDeleted && isExpired(stream, Date.now())) {
    await ctx.engine.deleteStream(name)
    stream = await ctx.engine.getStream(name)
  }
  if (stream === undefined) throw new SeqlineError(ErrorCode.STREAM_NOT_FOUND, 'Stream not found')
  if (stream.softDeleted) throw new SeqlineError(ErrorCode.GONE, 'The stream was deleted')
  return stream
}

/**
 * Resets the sliding TTL of a stream that has one (§5.1: reads and writes reset it, HEAD does
 * not). Streams without a TTL skip the write: a read must not cost a transaction.
 */
export async function touch(ctx: DurableStreamsContext, stream: StreamRecord): Promise<void> {
  if (stream.ttlSeconds !== null) await ctx.engine.store.touchStream(stream.name, Date.now())
}

/** Whether a stream's content type is JSON mode (§9.1). */
export function isJsonStream(contentType: string): boolean {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase() === 'application/json'
}
