import { ErrorCode, SeqlineError } from '@seqline/protocol'
import type { Authenticate } from './authenticator.js'
import { isValidUserId } from './user-id.js'

/**
 * INSECURE development authentication: the token *is* the user id, so anyone can claim to be
 * anyone. Meant for the demo and for tests; the server logs a loud warning when it is used.
 *
 * The token becomes the user id verbatim, so it must be a valid one (`USER_ID_PATTERN`: 1–200
 * characters of `A-Z a-z 0-9 : _ . @ / | + -`); anything else is `UNAUTHENTICATED`.
 *
 * @example
 * await devAuthenticate('alice') // → 'alice'
 */
export const devAuthenticate: Authenticate = async (token) => {
  if (!isValidUserId(token)) {
    throw new SeqlineError(
      ErrorCode.UNAUTHENTICATED,
      'Dev auth expects the user id as the token: 1-200 characters of A-Z a-z 0-9 : _ . @ / | + -',
    )
  }
  return token
}
