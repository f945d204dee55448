import type { SignalEvent } from '@seqline/client'
import { useCallback, useEffect, useRef } from 'react'
import { useSeqlineClient } from './seqline-context.js'

/**
 * Ephemeral signals on `stream` (typing indicators, cursors): `onSignal` gets those of other
 * connections; the returned function sends one (`false` when offline: signals are never stored
 * or queued). Signals reach current subscribers only, so follow the stream too.
 *
 * @example
 * const sendTyping = useSignal('room:general', (s) => showTyping(s.from))
 * <input onInput={() => sendTyping({ typing: true })} />
 */
export function useSignal<D = unknown>(
  stream: string | undefined,
  onSignal?: (signal: SignalEvent<D>) => void,
): (data: D) => boolean {
  const client = useSeqlineClient()
  const listener = useRef(onSignal)
  useEffect(() => {
    listener.current = onSignal
  })
  useEffect(() => {
    if (stream === undefined) return undefined
    return client
      .stream(stream)
      .on('signal', (signal) => listener.current?.(signal as SignalEvent<D>))
  }, [client, stream])
  return useCallback(
    (data: D) => (stream === undefined ? false : client.stream(stream).signal(data)),
    [client, stream],
  )
}
