import { SeqlineProvider, usePresence, useStream } from '@seqline/react'
import { useCallback, useEffect, useMemo, useState } from 'react'
import {
  DEFAULT_CHANNELS,
  DIRECTORY,
  type DirectoryEvent,
  channelStream,
  dmPeer,
  dmStream,
} from '../chat-model.js'
import type { ChatSession } from '../chat-session.js'
import { buildDirectory } from '../directory.js'
import { FeedRegistry } from '../feed-registry.js'
import {
  SessionContext,
  type SessionValue,
  createHistories,
  useSession,
} from '../session-context.js'
import { useTyping } from '../use-typing.js'
import { Avatar } from './avatar.js'
import { Composer } from './composer.js'
import { ConnectionBanner } from './connection-banner.js'
import { ConversationFeed } from './conversation-feed.js'
import { DebugDrawer } from './debug-drawer.js'
import { MessageList } from './message-list.js'
import { Sidebar } from './sidebar.js'

/** A signed-in tab: one Seqline client for its whole life. */
export function ChatApp({
  session,
  onSignOut,
}: {
  readonly session: ChatSession
  readonly onSignOut: () => void
}) {
  const value = useMemo<SessionValue>(
    () => ({
      session,
      me: session.credentials.user,
      feeds: new FeedRegistry(),
      history: createHistories(session),
    }),
    [session],
  )
  return (
    <SeqlineProvider client={session.client}>
      <SessionContext.Provider value={value}>
        <ChatShell onSignOut={onSignOut} />
      </SessionContext.Provider>
    </SeqlineProvider>
  )
}

function streamFromHash(): string | undefined {
  const hash = decodeURIComponent(location.hash.slice(1))
  return /^(room|dm):/.test(hash) ? hash : undefined
}

function ChatShell({ onSignOut }: { readonly onSignOut: () => void }) {
  const { session, me, history } = useSession()
  const directoryView = useStream<DirectoryEvent>(DIRECTORY, {
    snapshot: history.directory,
    older: history.directory.older,
    onMessage: () => session.stats.add('applied'),
  })
  const directory = useMemo(() => buildDirectory(directoryView.messages), [directoryView.messages])
  const online = new Set(usePresence(DIRECTORY).users.map((p) => p.user))
  const [active, setActive] = useState(() => streamFromHash() ?? channelStream(DEFAULT_CHANNELS[0]))
  const [drawer, setDrawer] = useState(false)
  const [sidebarOpen, setSidebarOpen] = useState(false)

  // The directory is small: load all of it.
  useEffect(() => {
    if (directoryView.hasOlder && !directoryView.loadingOlder) void directoryView.loadOlder()
  }, [directoryView])

  // Announce ourselves once the directory is known. Idempotent: a repeat is folded away.
  const directoryLive = directoryView.status === 'live'
  const known = directory.users.includes(me)
  useEffect(() => {
    if (directoryLive && !known) {
      void session.client.stream<DirectoryEvent>(DIRECTORY).publish({ type: 'user', user: me })
    }
  }, [directoryLive, known, me, session])

  const publishDirectory = useCallback(
    (event: DirectoryEvent) => void session.client.stream<DirectoryEvent>(DIRECTORY).publish(event),
    [session],
  )

  // Opening a channel (from a link, say) joins it: it stays in the sidebar with its unread count.
  const isMember =
    !active.startsWith('room:') ||
    DEFAULT_CHANNELS.some((c) => channelStream(c) === active) ||
    directory.members.get(active)?.has(me) === true
  const knownDm = directory.dms.some((d) => d.id === active)
  const isListed = !active.startsWith('room:') || directory.channels.some((c) => c.id === active)
  useEffect(() => {
    if (!directoryLive) return
    if (!isListed) {
      publishDirectory({ type: 'channel', id: active, title: active.slice('room:'.length) })
    }
    if (!isMember) publishDirectory({ type: 'join', channel: active, user: me })
    if (active.startsWith('dm:') && !knownDm) {
      const peer = dmPeer(active, me)
      publishDirectory({ type: 'dm', id: dmStream(me, peer), members: [me, peer].sort() })
    }
  }, [directoryLive, isListed, isMember, knownDm, active, me, publishDirectory])

  const joined = useMemo(() => {
    const list: string[] = DEFAULT_CHANNELS.map(channelStream)
    for (const [channel, members] of directory.members) {
      if (members.has(me) && !list.includes(channel)) list.push(channel)
    }
    for (const dm of directory.dms) if (dm.members.includes(me)) list.push(dm.id)
    if (!list.includes(active)) list.push(active)
    return list
  }, [directory, me, active])

  const open = useCallback((stream: string) => {
    setActive(stream)
    setSidebarOpen(false)
    window.history.replaceState(null, '', `#${encodeURIComponent(stream)}`)
  }, [])

  // Links and the back button change the hash: follow it.
  useEffect(() => {
    const onHash = (): void => {
      const stream = streamFromHash()
      if (stream !== undefined) setActive(stream)
    }
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])

  // Keyboard: Esc closes the drawer or the sidebar, Alt+↑/↓ moves between conversations.
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') {
        setDrawer(false)
        setSidebarOpen(false)
      } else if (event.altKey && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
        event.preventDefault()
        const i = joined.indexOf(active)
        const next =
          joined[(i + (event.key === 'ArrowDown' ? 1 : joined.length - 1)) % joined.length]
        if (next !== undefined) open(next)
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [joined, active, open])

  const title = active.startsWith('dm:')
    ? dmPeer(active, me)
    : `#${directory.channels.find((c) => c.id === active)?.title ?? active.slice('room:'.length)}`

  return (
    <div className={`app${sidebarOpen ? ' sidebar-open' : ''}${drawer ? ' drawer-open' : ''}`}>
      {joined.map((stream) => (
        <ConversationFeed key={stream} stream={stream} />
      ))}
      <aside className="sidebar" id="sidebar" aria-label="Sidebar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <span>Seqline Chat</span>
        </div>
        <Sidebar
          directory={directory}
          joined={joined}
          active={active}
          online={online}
          onOpen={open}
          onCreateChannel={(t) => {
            publishDirectory({ type: 'channel', id: channelStream(t), title: t })
            publishDirectory({ type: 'join', channel: channelStream(t), user: me })
            open(channelStream(t))
          }}
          onJoin={(stream) => {
            publishDirectory({ type: 'join', channel: stream, user: me })
            open(stream)
          }}
        />
        <div className="me">
          <Avatar user={me} online={true} />
          <span className="nav-label" data-testid="me">
            {me}
          </span>
          <button type="button" className="small ghost" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </aside>
      <div className="scrim" onClick={() => setSidebarOpen(false)} aria-hidden="true" />
      <main className="main" aria-label={title}>
        <header className="topbar">
          <button
            type="button"
            className="icon-button menu"
            aria-label="Show conversations"
            aria-controls="sidebar"
            aria-expanded={sidebarOpen}
            onClick={() => setSidebarOpen((o) => !o)}
          >
            ☰
          </button>
          <h1 data-testid="conversation-title">{title}</h1>
          <ConversationPresence active={active} online={online} />
          <button
            type="button"
            className="lab-button"
            aria-expanded={drawer}
            aria-controls="debug-drawer"
            onClick={() => setDrawer((d) => !d)}
            data-testid="open-drawer"
          >
            Reliability lab
          </button>
        </header>
        <ConnectionBanner />
        <Conversation key={active} stream={active} title={title} />
      </main>
      <DebugDrawer open={drawer} onClose={() => setDrawer(false)} />
    </div>
  )
}

function ConversationPresence({
  active,
  online,
}: {
  readonly active: string
  readonly online: ReadonlySet<string>
}) {
  const { me } = useSession()
  const here = usePresence(active).users.filter((p) => p.user !== me)
  if (active.startsWith('dm:')) {
    const peer = dmPeer(active, me)
    return <span className="topbar-meta">{online.has(peer) ? 'online' : 'offline'}</span>
  }
  return (
    <span className="topbar-meta">
      {online.size} online{here.length > 0 ? ` · ${here.length} here` : ''}
    </span>
  )
}

function Conversation({ stream, title }: { readonly stream: string; readonly title: string }) {
  const { typing, keystroke } = useTyping(stream)
  return (
    <>
      <MessageList stream={stream} title={title} />
      <p className="typing" aria-live="polite" data-testid="typing">
        {typing.length === 0
          ? ' '
          : `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`}
      </p>
      <Composer stream={stream} title={title} onKeystroke={keystroke} />
    </>
  )
}
