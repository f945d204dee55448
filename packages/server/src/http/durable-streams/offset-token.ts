// Durable Streams offsets (§8) are opaque, lexicographically sortable tokens. Seqline's map 1:1 to
// an engine position {epoch, offset} — "everything up to and including message `offset`":
//
//     <epoch, base36, left-padded to 16>_<offset, decimal, left-padded to 16>
//     00000042kq9x1zr7_0000000000000012
//
// Both halves are fixed-width, so within one history of a stream (one epoch) the string order is
// the offset order. Position 0 ("before the first message") is the same in every epoch, so the
// all-zero token the conformance suite constructs names the start of any stream. The sentinels
// `-1` (start) and `now` (head) are never minted. No token contains `,`, `&`, `=`, `?` or `/`.

const WIDTH = 16
const TOKEN = /^([0-9a-z]{16})_(\d{16})$/
const ZERO_EPOCH = /^0+$/

/** A parsed `offset` value: a sentinel or a position. */
export type OffsetRequest =
  | { readonly kind: 'start' }
  | { readonly kind: 'now' }
  | { readonly kind: 'position'; readonly epoch: string; readonly offset: number }

/** The token of position `offset` in the history `epoch`. */
export function encodeOffset(epoch: string, offset: number): string {
  return `${epoch.padStart(WIDTH, '0')}_${String(offset).padStart(WIDTH, '0')}`
}

/** Parses an `offset` query value or `Stream-Fork-Offset` header; `undefined` when malformed. */
export function parseOffset(text: string): OffsetRequest | undefined {
  if (text === '-1') return { kind: 'start' }
  if (text === 'now') return { kind: 'now' }
  const match = TOKEN.exec(text)
  if (match === null) return undefined
  const offset = Number(match[2])
  if (!Number.isSafeInteger(offset)) return undefined
  return { kind: 'position', epoch: match[1] ?? '', offset }
}

/** What a position token means for a stream as it is now. */
export type ResolvedOffset =
  | { readonly kind: 'ok'; readonly position: number }
  /** Another history of the stream (it was deleted and recreated), or trimmed by retention. */
  | { readonly kind: 'gone' }
  /** Past the stream's head: no server ever minted it. */
  | { readonly kind: 'beyond' }

/**
 * Resolves a requested offset against a stream's epoch, head and tail. `-1` is the start of the
 * retained history; `now` the head.
 */
export function resolveOffset(
  request: OffsetRequest,
  stream: { readonly epoch: string; readonly head: number; readonly tail: number },
): ResolvedOffset {
  if (request.kind === 'start') return { kind: 'ok', position: 0 }
  if (request.kind === 'now') return { kind: 'ok', position: stream.head }
  // The all-zero token (the suite builds it by hand) is "the start", like `-1`. A position 0 of a
  // named epoch is a client's real position — "nothing seen yet" — and, like any position, is gone
  // once retention trimmed past it: reading on from the tail would skip messages silently (G3).
  if (request.offset === 0 && ZERO_EPOCH.test(request.epoch)) return { kind: 'ok', position: 0 }
  if (request.epoch !== stream.epoch.padStart(WIDTH, '0')) return { kind: 'gone' }
  if (request.offset > stream.head) return { kind: 'beyond' }
  // Resuming at tail - 1 is fine: the next message to send is the tail itself.
  if (request.offset < stream.tail - 1) return { kind: 'gone' }
  return { kind: 'ok', position: request.offset }
}
