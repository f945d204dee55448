import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Principal } from '../../auth/authenticator.js'
import { isJsonMediaType, isValidMediaType } from '../../media-type.js'
import type { CreateStreamResult, StreamFork, StreamRecord } from '../../store/store.js'
import { normalizeContentType } from '../../store/store-rules.js'
import type { RouteContext } from '../route.js'
import { readBody } from '../read-body.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { splitJsonMessages } from './json-messages.js'
import { encodeOffset, parseOffset } from './offset-token.js'
import { type ForkHeaders, header, parseExpiry, parseFork, wantsClose } from './request-headers.js'
import { setContentHeaders } from './response-headers.js'
import { STREAM_PATH_PREFIX, loadStream, streamNameOf } from './stream-access.js'

/** Content type of a stream created without a usable one (§5.1 "MAY default"). */
const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

/**
 * `PUT /v1/stream/<name>` (§5.1, forks §4.2): creates the stream, optionally with initial content,
 * closed, with a TTL or expiry, or as a fork. Idempotent: the same configuration again is 200, a
 * different one 409. A plain JSON stream (what a first publish would create) needs `publish`;
 * anything that configures the stream — another content type, a TTL or expiry, closed, a fork —
 * needs `manage` (F6: publishing to a room must not be enough to pre-create it with a 2 s TTL).
 * A fork's source needs `read`.
 */
export async function createStream(ctx: RouteContext, ds: DurableStreamsContext): Promise<void> {
  const { req, res, principal } = ctx
  const name = ctx.params['stream'] as string
  const forkHeaders = parseFork(req)
  let { ttlSeconds, expiresAt } = parseExpiry(req)
  const closed = wantsClose(req)
  const requested = header(req, 'content-type')?.trim()
  let contentType = requested !== undefined && isValidMediaType(requested) ? requested : undefined
  const configures =
    forkHeaders !== undefined ||
    ttlSeconds !== undefined ||
    expiresAt !== undefined ||
    closed ||
    contentType === undefined ||
    !isJsonMediaType(contentType)
  await ds.engine.authorizer.check(principal, name, configures ? 'manage' : 'publish')
  const body = await readBody(req, ds.settings.maxBodyBytes)

  let fork: StreamFork | undefined
  if (forkHeaders !== undefined) {
    const source = await forkSource(ds, principal, forkHeaders)
    fork = {
      source: source.name,
      offset: forkOffset(source, forkHeaders),
      subOffset: forkHeaders.subOffset,
    }
    // "Content-Type is optional: if omitted, the fork inherits the source's" (§4.2).
    if (contentType === undefined) contentType = source.contentType
    else if (normalizeContentType(contentType) !== normalizeContentType(source.contentType)) {
      throw new SeqlineError(ErrorCode.CONFLICT, "Content-Type differs from the source stream's")
    }
    // §4.2 TTL table: without its own TTL or expiry, a fork inherits the source's.
    if (ttlSeconds === undefined && expiresAt === undefined) {
      ttlSeconds = source.ttlSeconds ?? undefined
      expiresAt = source.expiresAt ?? undefined
    }
  }
  contentType ??= DEFAULT_CONTENT_TYPE

  // An expired stream is gone: it must not make this creation look like a conflict.
  await loadStream(ds, name).catch(() => undefined)
  if (body.length > 0 && isJsonMediaType(contentType))
    ds.engine.admission.checkJsonText(body.toString('utf8'))
  const initial =
    body.length === 0 ? [] : isJsonMediaType(contentType) ? splitJsonMessages(body) : [body]
  const result = await ds.engine.streams.create({
    name,
    contentType,
    ttlSeconds: ttlSeconds ?? null,
    expiresAt: expiresAt ?? null,
    closed,
    initial,
    from: principal.userId,
    fork,
  })
  sendCreated(req, res, result)
}

async function forkSource(
  ds: DurableStreamsContext,
  principal: Principal,
  headers: ForkHeaders,
): Promise<StreamRecord> {
  const name = streamNameOf(headers.source)
  await ds.engine.authorizer.check(principal, name, 'read')
  try {
    return await loadStream(ds, name)
  } catch (err) {
    // A soft-deleted source still blocks forking, as a conflict rather than 410 (§4.2 table).
    if (err instanceof SeqlineError && err.code === ErrorCode.GONE) {
      throw new SeqlineError(
        ErrorCode.CONFLICT,
        'The source stream was deleted but still has forks',
      )
    }
    throw err
  }
}

/** The fork point: `Stream-Fork-Offset` resolved against the source, or its head (§4.2). */
function forkOffset(source: StreamRecord, headers: ForkHeaders): number {
  if (headers.offset === undefined) return source.head
  const request = parseOffset(headers.offset)
  if (request === undefined) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Malformed Stream-Fork-Offset')
  }
  if (request.kind === 'start') return 0
  if (request.kind === 'now') return source.head
  if (request.offset === 0) return 0
  if (request.epoch !== source.epoch.padStart(16, '0') || request.offset > source.head) {
    throw new SeqlineError(ErrorCode.BAD_REQUEST, 'Stream-Fork-Offset is beyond the source stream')
  }
  return request.offset
}

function sendCreated(req: IncomingMessage, res: ServerResponse, result: CreateStreamResult): void {
  if (result.kind === 'rejected') throw new SeqlineError(result.code, result.message)
  if (result.kind === 'conflict') {
    throw new SeqlineError(
      ErrorCode.CONFLICT,
      result.stream.softDeleted
        ? 'The stream was deleted but still has forks; its name cannot be reused yet'
        : 'The stream already exists with another configuration',
    )
  }
  const { stream } = result
  res.statusCode = result.kind === 'created' ? 201 : 200
  if (result.kind === 'created') res.setHeader('Location', locationOf(req, stream.name))
  setContentHeaders(res, stream.contentType)
  res.setHeader('Stream-Next-Offset', encodeOffset(stream.epoch, stream.head))
  if (stream.closed) res.setHeader('Stream-Closed', 'true')
  res.setHeader('Cache-Control', 'no-store')
  res.end()
}

/** The absolute URL of a stream (§5.1 `Location`), as the client addressed this server. */
function locationOf(req: IncomingMessage, name: string): string {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  const host = req.headers.host ?? 'localhost'
  const path = name.split('/').map(encodeURIComponent).join('/')
  return `${encrypted ? 'https' : 'http'}://${host}${STREAM_PATH_PREFIX}${path}`
}
