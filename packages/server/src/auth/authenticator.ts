// The two auth hooks of DESIGN §8. Transports call `authenticate` on every connection and every
// HTTP request, and `authorize` before every read, publish or signal.

/**
 * Turns a bearer token into a user id. Rejects with a `SeqlineError` of code `UNAUTHENTICATED`
 * when the token is not acceptable.
 *
 * @example
 * const authenticate: Authenticate = async (token) => (await sessions.lookup(token)).userId
 */
export type Authenticate = (token: string) => Promise<string>

/** What a user wants to do on a stream. */
export type AuthorizeAction = 'read' | 'publish' | 'signal'

/**
 * Decides whether `userId` may perform `action` on `stream`. Returning `false` refuses the
 * request with `FORBIDDEN`; throwing is treated as an internal error.
 *
 * @example
 * const authorize: Authorize = (userId, stream) =>
 *   !stream.startsWith('user:') || stream === `user:${userId}`
 */
export type Authorize = (
  userId: string,
  stream: string,
  action: AuthorizeAction,
) => boolean | Promise<boolean>

/** The default `authorize`: every authenticated user may do everything on every stream. */
export const allowAll: Authorize = () => true
