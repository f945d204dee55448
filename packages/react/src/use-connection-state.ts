import type { ConnectionState, ConnectionStateKind } from '@seqline/client'
import { useCallback, useSyncExternalStore } from 'react'
import { useSeqlineContext } from './seqline-context.js'

/** What {@link useConnectionState} returns. */
export interface ConnectionStatus {
  /** The client's state, with its data (attempt, retry delay, connection id …). */
  readonly state: ConnectionState
  /** Shorthand for `state.kind`. */
  readonly kind: ConnectionStateKind
  /**
   * Open, but at least one stream followed by {@link useStream} has not caught up yet: missed
   * messages are being replayed (or a snapshot fetched) after a (re)connect.
   */
  readonly catchingUp: boolean
}

/**
 * The connection state, re-rendering on every change: for a banner that says online,
 * reconnecting, offline or catching up.
 *
 * @example
 * const { kind, catchingUp } = useConnectionState()
 * if (kind === 'reconnecting') return <Banner>Reconnecting…</Banner>
 */
export function useConnectionState(): ConnectionStatus {
  const { client, sync } = useSeqlineContext()
  const subscribe = useCallback(
    (onChange: () => void) => {
      const offState = client.on('state', onChange)
      const offSync = sync.subscribe(onChange)
      return () => {
        offState()
        offSync()
      }
    },
    [client, sync],
  )
  const state = useSyncExternalStore(subscribe, () => client.state)
  const catchingUp = useSyncExternalStore(subscribe, () => sync.size > 0)
  return { state, kind: state.kind, catchingUp: state.kind === 'open' && catchingUp }
}
