import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { isValidUserId } from './user-id.js'

// The two auth hooks of DESIGN §8. Transports call `authenticate` on every connection, every
// `auth` frame and every HTTP request, and `authorize` before every read, publish, signal,
// presence lookup and stream management.

/** Who a token authenticates. */
export interface Principal {
  readonly userId: string
  /** The token's claims (a JWT's payload); empty for schemes without claims. */
  readonly claims: Readonly<Record<string, unknown>>
  /**
   * When the token stops being valid, ms since the Unix epoch; `undefined` when it does not expire.
   * An open WebSocket is told at that moment and must present a fresh token (`auth`).
   */
  readonly expiresAt?: number | undefined
}

/**
 * Turns a bearer token into a user id or a {@link Principal}. Rejects with a `SeqlineError` of
 * code `UNAUTHENTICATED` when the token is not acceptable.
 *
 * @example
 * const authenticate: Authenticate = async (token) => (await sessions.lookup(token)).userId
 */
export type Authenticate = (token: string) => Promise<string | Principal>

/**
 * What a user wants to do on a stream:
 * - `read`: subscribe, resume, read over HTTP, ack;
 * - `publish`: append (WebSocket `pub`, HTTP POST, a PUT without options);
 * - `signal`: send ephemeral signals;
 * - `presence`: see who is connected (presence frames, `GET /v1/presence`);
 * - `manage`: create a stream with options (content type, TTL, expiry, closed, fork), close it,
 *   delete it.
 */
export type AuthorizeAction = 'read' | 'publish' | 'signal' | 'presence' | 'manage'

/** Everything an `authorize` decision may look at besides user, stream and action. */
export interface AuthorizeContext {
  /** The claims of the token that authenticated the request (see {@link Principal.claims}). */
  readonly claims: Readonly<Record<string, unknown>>
}

/**
 * Decides whether `userId` may perform `action` on `stream`. Returning `false` refuses the
 * request with `FORBIDDEN`; throwing refuses it too (and is logged).
 *
 * @example
 * const authorize: Authorize = (userId, stream, action) =>
 *   action !== 'manage' && (!stream.startsWith('user:') || stream === `user:${userId}`)
 */
export type Authorize = (
  userId: string,
  stream: string,
  action: AuthorizeAction,
  context: AuthorizeContext,
) => boolean | Promise<boolean>

/**
 * An `authorize` that keeps answers of its own (the authorize callback caches the backend's for its
 * max-age): `forget(user)` drops them, so that a revocation takes effect at once.
 */
export type RevocableAuthorize = Authorize & { forget?: (userId: string) => void }

/**
 * The default `authorize`: every authenticated user may read, publish, signal and see presence on
 * every stream; nobody may manage (create with options, close, delete) one. Give `manage` with a
 * permissions file or an `authorize` hook of your own.
 */
export const defaultAuthorize: Authorize = (_userId, _stream, action) => action !== 'manage'

/** An `authorize` that allows everything, `manage` included (tests, single-user tools). */
export const allowAll: Authorize = () => true

/** The claims of a scheme without claims: one frozen object for every principal. */
const NO_CLAIMS: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * The principal of an `authenticate` result, whichever hook produced it. Throws `UNAUTHENTICATED`
 * when its user id is not a valid one (see `USER_ID_PATTERN`): every door goes through here, so
 * no hook — built in or custom — can let an id with a newline, a space or markup through.
 */
export function toPrincipal(result: string | Principal): Principal {
  const principal = typeof result === 'string' ? { userId: result, claims: NO_CLAIMS } : result
  if (!isValidUserId(principal.userId)) {
    throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'Invalid token', {
      cause: new Error('the authenticate hook returned a user id outside USER_ID_PATTERN'),
    })
  }
  return principal
}
