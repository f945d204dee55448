import type { Message, Position, ResetInfo } from '@seqline/client'

/**
 * Why {@link useStream} asks for a snapshot:
 * - `initial`: this client has nothing for the stream: the latest state, from which it goes live;
 * - `resume`: this client resumes from `position` (a reload): the state as of exactly that
 *   position, since delivery continues right after it;
 * - `reset`: the server cannot resume (history trimmed, stream recreated): the latest state.
 */
export type SnapshotRequest =
  | { readonly kind: 'initial'; readonly stream: string }
  | { readonly kind: 'resume'; readonly stream: string; readonly position: Position }
  | { readonly kind: 'reset'; readonly stream: string; readonly reset: ResetInfo }

/** A page of the latest messages of a stream, current as of `position`. */
export interface StreamSnapshot<T> {
  /** The position the page ends at; `undefined` when the stream does not exist yet. */
  readonly position: Position | undefined
  /** The messages up to `position`, oldest first (typically the last page, not all history). */
  readonly messages: readonly Message<T>[]
  /** Older messages exist below the first one. */
  readonly hasOlder: boolean
}

/** Messages older than what is shown, fetched on demand (scrolling back). */
export interface OlderPage<T> {
  /** Oldest first, all below the requested offset. */
  readonly messages: readonly Message<T>[]
  readonly hasOlder: boolean
}
