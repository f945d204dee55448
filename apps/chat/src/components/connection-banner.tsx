import { useConnectionState } from '@seqline/react'
import { useSession } from '../session-context.js'

/** What the banner says; also exposed as `data-state` for tests. */
export type BannerState =
  'online' | 'connecting' | 'reconnecting' | 'offline' | 'catching-up' | 'closed'

/**
 * The connection, told plainly: online, reconnecting, offline or catching up — and over which HTTP
 * transport when WebSocket cannot get through.
 */
export function ConnectionBanner() {
  const { session } = useSession()
  const { state, catchingUp } = useConnectionState()
  let banner: BannerState
  let text: string
  switch (state.kind) {
    case 'open':
      banner = catchingUp ? 'catching-up' : 'online'
      text = catchingUp ? 'Catching up on what you missed…' : 'Online'
      break
    case 'connecting':
      banner = 'connecting'
      text = 'Connecting…'
      break
    case 'reconnecting':
      banner = 'reconnecting'
      text =
        state.phase === 'waiting'
          ? `Connection lost. Reconnecting in ${Math.ceil(state.retryInMs / 1000)} s…`
          : 'Reconnecting…'
      break
    case 'offline':
      banner = 'offline'
      text = session.network.simulatedOffline
        ? 'Offline (debug switch). Messages you send wait in the outbox.'
        : 'You are offline. Messages you send wait in the outbox.'
      break
    case 'closed':
      banner = 'closed'
      text = state.error === undefined ? 'Disconnected.' : `Disconnected: ${state.error.message}`
      break
  }
  const pending = session.client.pendingPublishes
  return (
    <div
      className={`banner banner-${banner}`}
      role="status"
      data-testid="connection"
      data-state={banner}
      data-transport={state.kind === 'open' ? state.transport : undefined}
    >
      <span className="banner-dot" aria-hidden="true" />
      <span>{text}</span>
      {state.kind === 'open' && state.transport !== 'websocket' && (
        <span className="banner-transport" title="WebSocket cannot get through: HTTP fallback">
          over {state.transport}
        </span>
      )}
      {banner !== 'online' && pending > 0 && (
        <span className="banner-pending">{pending} waiting to send</span>
      )}
    </div>
  )
}
