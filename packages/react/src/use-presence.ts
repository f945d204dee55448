import type { PresenceEntry } from '@seqline/client'
import { useCallback, useRef, useSyncExternalStore } from 'react'
import { useSeqlineClient } from './seqline-context.js'

const NONE: readonly PresenceEntry[] = []

/**
 * Who is connected to `stream` right now: one entry per user with their number of connected
 * clients (tabs, devices). Presence arrives with a subscription, so some component must follow the
 * stream (e.g. with {@link useStream}); until then, and while disconnected, the list is empty.
 *
 * @example
 * const online = new Set(usePresence('room:general').map((p) => p.user))
 */
export function usePresence(stream: string | undefined): readonly PresenceEntry[] {
  const client = useSeqlineClient()
  // The handle returns a new array on every call: keep the last one until an event says otherwise,
  // as useSyncExternalStore requires a stable snapshot.
  const current = useRef<{ stream: string | undefined; list: readonly PresenceEntry[] }>({
    stream: undefined,
    list: NONE,
  })
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (stream === undefined) return () => {}
      const handle = client.stream(stream)
      const offPresence = handle.on('presence', (list) => {
        current.current = { stream, list }
        onChange()
      })
      // A lost connection clears presence in the handle without an event.
      const offState = client.on('state', ({ to }) => {
        if (to.kind !== 'open') {
          current.current = { stream, list: NONE }
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
  const getSnapshot = (): readonly PresenceEntry[] => {
    if (stream === undefined) return NONE
    if (current.current.stream !== stream) {
      const list = client.stream(stream).presence()
      current.current = { stream, list: list.length === 0 ? NONE : list }
    }
    return current.current.list
  }
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot)
}
