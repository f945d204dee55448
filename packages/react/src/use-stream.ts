import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { useSeqlineContext } from './seqline-context.js'
import { type StreamView, StreamViewStore, type UseStreamOptions } from './stream-view-store.js'

/**
 * Follows a stream and renders its messages: every message once, in order, across reconnects,
 * reloads and resets (the SDK's guarantees, as React state). With a `snapshot` the view starts
 * from the latest page and goes live exactly after it; `loadOlder()` pages backwards. Unmounting
 * (or changing `stream`) unsubscribes; the client keeps the position for the next time.
 *
 * One `useStream` per stream at a time per client: the SDK allows one subscription per stream.
 *
 * @example
 * const snapshot = historySnapshot({ url, token })
 * const { messages, status, loadOlder } = useStream<Chat>('room:general', {
 *   snapshot,
 *   older: snapshot.older,
 * })
 */
export function useStream<T = unknown>(
  stream: string | undefined,
  options: UseStreamOptions<T> = {},
): StreamView<T> {
  const { client, sync } = useSeqlineContext()
  const latest = useRef(options)
  useEffect(() => {
    latest.current = options
  })
  const [store, setStore] = useState(() => new StreamViewStore<T>(stream))
  let current = store
  if (store.getView().stream !== stream) {
    // A new stream (or client) starts from a clean view in the same render, never showing the
    // previous stream's messages under the new name.
    current = new StreamViewStore<T>(stream)
    setStore(current)
  }
  useEffect(() => current.start(client, () => latest.current, sync), [current, client, sync])
  return useSyncExternalStore(current.subscribe, current.getView, current.getView)
}
