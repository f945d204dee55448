import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Authenticate } from './authenticator.js'

// What a dev-mode token may look like. It becomes the user id verbatim, so it must be something
// safe to put in logs, presence frames and `from` fields.
const DEV_USER_ID = /^[A-Za-z0-9_.@-]{1,128}$/

/**
 * INSECURE development authentication: the token *is* the user id, so anyone can claim to be
 * anyone. Meant for the demo and for tests; the server logs a loud warning when it is used.
 *
 * Accepts 1–128 characters of `[A-Za-z0-9_.@-]`; anything else is `UNAUTHENTICATED`.
 *
 * @example
 * await devAuthenticate('alice') // → 'alice'
 */
export const devAuthenticate: Authenticate = async (token) => {
  if (typeof token !== 'string' || !DEV_USER_ID.test(token)) {
    throw new SeqlineError(
      ErrorCode.UNAUTHENTICATED,
      'Dev auth expects the user id as the token: 1-128 characters of A-Z a-z 0-9 _ . @ -',
    )
  }
  return token
}
