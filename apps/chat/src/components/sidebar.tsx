import { type FormEvent, useState } from 'react'
import { channelTitle, dmPeer, dmStream } from '../chat-model.js'
import type { Directory } from '../directory.js'
import { useFeedsVersion } from '../feed-registry.js'
import { useSession } from '../session-context.js'
import { Avatar } from './avatar.js'

interface SidebarProps {
  readonly directory: Directory
  readonly joined: readonly string[]
  readonly active: string
  readonly online: ReadonlySet<string>
  readonly onOpen: (stream: string) => void
  readonly onCreateChannel: (title: string) => void
  readonly onJoin: (stream: string) => void
}

/** Channels, direct messages and people, with unread counts and presence dots. */
export function Sidebar({
  directory,
  joined,
  active,
  online,
  onOpen,
  onCreateChannel,
  onJoin,
}: SidebarProps) {
  const { me, feeds } = useSession()
  useFeedsVersion(feeds)
  const [creating, setCreating] = useState(false)
  const [name, setName] = useState('')

  const unread = (stream: string): number => {
    const feed = feeds.get(stream)
    if (feed === undefined) return 0
    let mine = 0
    for (const m of feed.seen.messages) if (m.from === me) mine = Math.max(mine, m.data.upTo)
    let n = 0
    for (const m of feed.messages.messages) if (m.offset > mine && m.from !== me) n += 1
    return n
  }

  const submit = (event: FormEvent): void => {
    event.preventDefault()
    const title = channelTitle(name)
    if (title === '') return
    onCreateChannel(title)
    setName('')
    setCreating(false)
  }

  const joinedSet = new Set(joined)
  const channels = directory.channels.filter((c) => joinedSet.has(c.id))
  const others = directory.channels.filter((c) => !joinedSet.has(c.id))
  const dms = joined.filter((s) => s.startsWith('dm:'))
  const people = directory.users.filter((u) => u !== me)

  const item = (stream: string, label: string, icon: React.ReactNode) => {
    const count = stream === active ? 0 : unread(stream)
    return (
      <li key={stream}>
        <button
          type="button"
          className={`nav-item${stream === active ? ' active' : ''}${count > 0 ? ' has-unread' : ''}`}
          aria-current={stream === active ? 'page' : undefined}
          onClick={() => onOpen(stream)}
          data-testid={`open-${stream}`}
        >
          {icon}
          <span className="nav-label">{label}</span>
          {count > 0 && (
            <span className="badge" data-testid={`unread-${stream}`} aria-label={`${count} unread`}>
              {count}
            </span>
          )}
        </button>
      </li>
    )
  }

  return (
    <nav className="sidebar-nav" aria-label="Conversations">
      <section>
        <div className="section-header">
          <h2>Channels</h2>
          <button
            type="button"
            className="icon-button"
            onClick={() => setCreating((c) => !c)}
            aria-expanded={creating}
            aria-controls="new-channel"
            aria-label="Create a channel"
            data-testid="new-channel"
          >
            +
          </button>
        </div>
        {creating && (
          <form id="new-channel" className="new-channel" onSubmit={submit}>
            <label htmlFor="new-channel-name" className="visually-hidden">
              Channel name
            </label>
            <input
              id="new-channel-name"
              autoFocus
              placeholder="new-channel"
              value={name}
              onChange={(e) => setName(e.target.value)}
              onKeyDown={(e) => e.key === 'Escape' && setCreating(false)}
              data-testid="new-channel-name"
            />
            <button type="submit" className="small">
              Create
            </button>
          </form>
        )}
        <ul>
          {channels.map((c) =>
            item(
              c.id,
              c.title,
              <span className="hash" aria-hidden="true">
                #
              </span>,
            ),
          )}
        </ul>
        {others.length > 0 && (
          <>
            <h3 className="subtle">More channels</h3>
            <ul>
              {others.map((c) => (
                <li key={c.id} className="join-row">
                  <span className="nav-label">
                    <span className="hash" aria-hidden="true">
                      #
                    </span>
                    {c.title}
                  </span>
                  <button
                    type="button"
                    className="small"
                    onClick={() => onJoin(c.id)}
                    aria-label={`Join #${c.title}`}
                  >
                    Join
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      <section>
        <h2>Direct messages</h2>
        <ul>
          {dms.map((s) => {
            const peer = dmPeer(s, me)
            return item(s, peer, <Avatar user={peer} online={online.has(peer)} />)
          })}
        </ul>
      </section>
      <section>
        <h2>People</h2>
        <ul>
          {people.length === 0 && (
            <li className="subtle">
              Nobody else yet. Open another browser and sign in as someone else.
            </li>
          )}
          {people.map((u) => (
            <li key={u}>
              <button
                type="button"
                className="nav-item"
                onClick={() => onOpen(dmStream(me, u))}
                aria-label={`Message ${u}${online.has(u) ? ' (online)' : ''}`}
                data-testid={`person-${u}`}
              >
                <Avatar user={u} online={online.has(u)} />
                <span className="nav-label">{u}</span>
                {online.has(u) && <span className="visually-hidden">online</span>}
              </button>
            </li>
          ))}
        </ul>
      </section>
    </nav>
  )
}
