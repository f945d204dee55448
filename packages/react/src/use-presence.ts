import type { PresenceCount, PresenceEntry, StreamHandle } from '@seqline/client'
import { useCallback, useRef, useSyncExternalStore } from 'react'
import { useSeqlineClient } from './seqline-context.js'

/** What {@link usePresence} returns. */
export interface PresenceView {
  /** Connected users with their number of connected clients (tabs, devices). */
  readonly users: readonly PresenceEntry[]
  /** How many users and clients are connected, as counted by the server: exact even when `users` is not. */
  readonly count: PresenceCount
  /**
   * Whether `users` lists everyone. In a large room the server lists only the first users (by id),
   * and in a room whose presence only counts it lists none: then show `count`.
   */
  readonly complete: boolean
}

const NOBODY: PresenceView = { users: [], count: { users: 0, clients: 0 }, complete: true }

function viewOf(handle: StreamHandle): PresenceView {
  const users = handle.presence()
  const count = handle.presenceCount()
  const complete = handle.presenceComplete()
  return users.length === 0 && count.clients === 0 && complete ? NOBODY : { users, count, complete }
}

/**
 * Who is connected to `stream` right now: the users (each with their number of connected clients),
 * the server's counts, and whether the list is complete. Presence arrives with a subscription, so
 * some component must follow the stream (e.g. with {@link useStream}); until then, and while
 * disconnected, nobody is listed.
 *
 * @example
 * const { users, count, complete } = usePresence('room:general')
 * const online = new Set(users.map((p) => p.user))
 * const label = complete ? `${users.length} here` : `${count.users} here`
 */
export function usePresence(stream: string | undefined): PresenceView {
  const client = useSeqlineClient()
  // The handle builds a new list on every call: keep the last view until an event says otherwise,
  // as useSyncExternalStore requires a stable snapshot.
  const current = useRef<{ stream: string | undefined; view: PresenceView }>({
    stream: undefined,
    view: NOBODY,
  })
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (stream === undefined) return () => {}
      const handle = client.stream(stream)
      const offPresence = handle.on('presence', ({ users, count, complete }) => {
        current.current = { stream, view: { users, count, complete } }
        onChange()
      })
      // A lost connection clears presence in the handle without an event.
      const offState = client.on('state', ({ to }) => {
        if (to.kind !== 'open') {
          current.current = { stream, view: NOBODY }
          onChange()
        }
      })
      return () => {
        offPresence()
        offState()
      }
    },
    [client, stream],
  )
  const getSnapshot = (): PresenceView => {
    if (stream === undefined) return NOBODY
    if (current.current.stream !== stream) {
      current.current = { stream, view: viewOf(client.stream(stream)) }
    }
    return current.current.view
  }
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot)
}
