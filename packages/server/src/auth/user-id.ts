// What a user id may look like, whatever authenticated it. A user id travels in `from` fields,
// presence frames, logs, permission checks and webhook bodies, so it must be safe in all of them:
// no NUL, no newline, no `<`, no spaces — nothing that could split a log line or become markup.

/**
 * User ids: 1–200 characters from the stream-name alphabet (`A-Z a-z 0-9 : _ . @ / -`) plus `|`
 * and `+`, so that identity-provider subjects such as Auth0's `auth0|123` and e-mail addresses
 * with a `+` tag are accepted as they are.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9:_.@/|+-]{1,200}$/

/**
 * Whether `value` is an acceptable user id ({@link USER_ID_PATTERN}).
 *
 * @example
 * isValidUserId('auth0|5f7c8ec7c33c6c004bbafe82') // → true
 * isValidUserId('alice smith')                    // → false
 */
export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value)
}
