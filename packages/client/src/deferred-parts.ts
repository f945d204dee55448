// The parts of the client that only some clients need, and only after a while: loaded on first use,
// together, as one chunk (one request; several chunks would cost more than they save).
// - TokenRefresher: once the server announces when the token expires.
// - ClosingNotice: with the first welcome in a browser.
// - forgetClient: on `close({ forget: true })`.
export { forgetClient } from './client-deletion.js'
export { ClosingNotice } from './closing-notice.js'
export { TokenRefresher } from './token-refresher.js'
