// Producer ids over HTTP (DESIGN §4, Durable Streams §5.2.1). The engine keeps one producer state
// per (stream, producer id), shared by every door: a WebSocket `pub` uses the client's id
// (`c_…`), an HTTP append the `Producer-Id` header scoped to the authenticated user. The scope
// keeps one user from fencing or replaying another's producer by reusing its id — client ids
// are visible to every reader in `msg` frames — and cannot collide with a client id.

/**
 * The engine's producer id of an HTTP `Producer-Id` sent by `userId`. The user id is
 * length-prefixed, so that no two (user, id) pairs map to the same key.
 *
 * @example
 * httpProducerId('alice', 'orders-1') // → 'http:5:alice:orders-1'
 */
export function httpProducerId(userId: string, producerId: string): string {
  return `http:${userId.length}:${userId}:${producerId}`
}
