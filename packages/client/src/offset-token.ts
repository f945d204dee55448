import type { Position } from '@seqline/protocol'

// Durable Streams offset tokens as the Seqline server mints them (packages/server/src/http/
// durable-streams/offset-token.ts): `<epoch left-padded with '0' to 16>_<offset left-padded to 16>`.
// The padding hides how long the epoch really is, so epochs read from a token are compared with
// the WebSocket's `msg.epoch` *modulo leading zeros* ({@link sameEpoch}).

const WIDTH = 16

/** Whether two spellings name the same stream epoch (they may differ only in leading zeros). */
export function sameEpoch(a: string, b: string): boolean {
  return a === b || a.replace(/^0+/, '') === b.replace(/^0+/, '')
}

/**
 * The Durable Streams offset token of a position, for `GET /v1/stream/<name>?offset=…`.
 *
 * @example
 * positionToOffset({ epoch: '0kq9x1zr7a', offset: 12 }) // '0000000kq9x1zr7a_0000000000000012'
 */
export function positionToOffset(position: Position): string {
  return `${position.epoch.padStart(WIDTH, '0')}_${String(position.offset).padStart(WIDTH, '0')}`
}

/**
 * The position named by an offset token (`Stream-Next-Offset`, `streamNextOffset`): handy in a
 * `snapshot()` that reads the stream over HTTP. The epoch comes back without its padding; the SDK
 * compares epochs modulo leading zeros. `undefined` for a sentinel (`-1`, `now`) or a foreign token.
 *
 * @example
 * const res = await fetch(`${url}/v1/stream/room:a?offset=-1`, { headers })
 * const position = offsetToPosition(res.headers.get('Stream-Next-Offset')!)
 */
export function offsetToPosition(token: string): Position | undefined {
  const match = /^([0-9a-z]+)_(\d+)$/.exec(token)
  if (match === null) return undefined
  return { epoch: (match[1] ?? '').replace(/^0+(?=.)/, ''), offset: Number(match[2]) }
}
