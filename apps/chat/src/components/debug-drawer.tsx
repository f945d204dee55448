import { useConnectionState } from '@seqline/react'
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import type { ProxyMode } from '../proxy-transport.js'
import { useSession } from '../session-context.js'

/**
 * The drawer that proves the point: switch on chaos (the socket is killed every few seconds and
 * some frames are doubled or lost), go offline, or put a proxy in front that blocks WebSocket or
 * buffers responses, keep chatting, and watch the counters: every message arrives once, gaps are
 * healed, duplicates dropped.
 */
export function DebugDrawer({
  open,
  onClose,
}: {
  readonly open: boolean
  readonly onClose: () => void
}) {
  const { session } = useSession()
  const counters = useSyncExternalStore(session.stats.subscribe, session.stats.get)
  const { state } = useConnectionState()
  const [chaos, setChaos] = useState(session.transport.chaos)
  const [offline, setOffline] = useState(session.network.simulatedOffline)
  const [proxy, setProxy] = useState(session.proxy.mode)
  const [pending, setPending] = useState(session.client.pendingPublishes)
  const heading = useRef<HTMLHeadingElement>(null)

  useEffect(() => {
    if (!open) return undefined
    heading.current?.focus()
    const timer = setInterval(() => setPending(session.client.pendingPublishes), 300)
    return () => clearInterval(timer)
  }, [open, session])

  const toggleChaos = (on: boolean): void => {
    session.transport.setChaos(on)
    setChaos(on)
  }
  const toggleOffline = (on: boolean): void => {
    session.network.setOffline(on)
    setOffline(on)
  }
  const changeProxy = (mode: ProxyMode): void => {
    session.proxy.setMode(mode)
    setProxy(mode)
  }

  const rows: [string, number | string, string][] = [
    [
      'Messages received',
      counters.received,
      'msg frames that reached the SDK, duplicates included',
    ],
    ['Messages applied', counters.applied, 'handed to the app: each offset exactly once, in order'],
    ['Duplicates dropped', counters.duplicatesDropped, 'frames for offsets the SDK already had'],
    ['Gaps healed', counters.gapsHealed, 'catch-ups that replayed missed messages'],
    ['Messages replayed', counters.replayed, 'recovered by those catch-ups'],
    ['Connections', counters.connections, 'links opened: WebSockets or HTTP sessions'],
    ['Killed by chaos', counters.kills, 'links the chaos switch cut'],
    ['Waiting in outbox', pending, 'publishes not yet acknowledged'],
  ]

  return (
    <aside
      id="debug-drawer"
      className={`drawer${open ? ' open' : ''}`}
      aria-labelledby="drawer-title"
      hidden={!open}
      data-testid="debug-drawer"
    >
      <div className="drawer-header">
        <h2 id="drawer-title" tabIndex={-1} ref={heading}>
          Reliability lab
        </h2>
        <button
          type="button"
          className="icon-button"
          onClick={onClose}
          aria-label="Close the reliability lab (Esc)"
        >
          ✕
        </button>
      </div>
      <p className="drawer-intro">
        Break the connection on purpose and keep chatting. Nothing gets lost, nothing shows twice.
      </p>
      <label className="switch">
        <input
          type="checkbox"
          role="switch"
          checked={chaos}
          onChange={(e) => toggleChaos(e.target.checked)}
          data-testid="chaos-switch"
        />
        <span className="switch-track" aria-hidden="true" />
        <span>
          <strong>Chaos</strong>
          <small>Kills the socket every 2–5 s and delivers some frames twice</small>
        </span>
      </label>
      <label className="switch">
        <input
          type="checkbox"
          role="switch"
          checked={offline}
          onChange={(e) => toggleOffline(e.target.checked)}
          data-testid="offline-switch"
        />
        <span className="switch-track" aria-hidden="true" />
        <span>
          <strong>Offline</strong>
          <small>Stops all traffic, WebSocket and HTTP</small>
        </span>
      </label>
      <div className="proxy-switch">
        <label htmlFor="proxy-switch">
          <strong>Proxy</strong>
          <small>Between this tab and the server; the SDK finds its way through</small>
        </label>
        <select
          id="proxy-switch"
          value={proxy}
          onChange={(e) => changeProxy(e.target.value as ProxyMode)}
          data-testid="proxy-switch"
        >
          <option value="direct">None: WebSocket</option>
          <option value="no-websocket">WebSocket blocked: HTTP session (SSE)</option>
          <option value="buffering">Buffering, WebSocket blocked: long-poll</option>
        </select>
      </div>
      <dl className="counters" data-testid="counters">
        {rows.map(([label, value, help]) => (
          <div key={label} className="counter" title={help}>
            <dt>{label}</dt>
            <dd data-counter={label}>{value}</dd>
          </div>
        ))}
      </dl>
      <dl className="identity">
        <div>
          <dt>Connection</dt>
          <dd>
            {state.kind}
            {state.kind === 'open' ? ` · ${state.connectionId.slice(0, 10)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Client (this tab)</dt>
          <dd>{session.client.clientId?.slice(0, 12) ?? '—'}</dd>
        </div>
        <div>
          <dt>Transport</dt>
          <dd data-testid="transport">{state.kind === 'open' ? state.transport : '—'}</dd>
        </div>
      </dl>
    </aside>
  )
}
