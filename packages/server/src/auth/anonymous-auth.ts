import type { Authenticate } from './authenticator.js'

/** The user id every request runs as under {@link anonymousAuthenticate}. */
export const ANONYMOUS_USER = 'anonymous'

/**
 * NO authentication (`--auth none`): every request, with or without a token, runs as the one user
 * `anonymous`, and Durable Streams HTTP requests need no `Authorization` header at all. For
 * public demos and for running the official Durable Streams conformance suite, whose requests
 * carry no credentials. `authorize` still applies (to that one user). The server logs a loud
 * warning when it is used.
 *
 * @example
 * await anonymousAuthenticate('anything') // → 'anonymous'
 */
export const anonymousAuthenticate: Authenticate = async () => ANONYMOUS_USER
