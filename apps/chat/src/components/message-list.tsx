import type { Message } from '@seqline/client'
import { useEffect, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react'
import { type ChatText, seenStream } from '../chat-model.js'
import { useFeed } from '../feed-registry.js'
import type { PendingMessage } from '../pending-store.js'
import { useSession } from '../session-context.js'
import { useCursors } from '../use-cursors.js'
import { Avatar } from './avatar.js'

/** Where one of my messages is on its way to the others. */
type Delivery = 'pending' | 'failed' | 'sent' | 'delivered' | 'read'

const DELIVERY_LABEL: Readonly<Record<Delivery, string>> = {
  pending: 'Pending: in the outbox',
  failed: 'Not sent',
  sent: 'Sent: stored on the server',
  delivered: 'Delivered',
  read: 'Read',
}

const DELIVERY_ICON: Readonly<Record<Delivery, string>> = {
  pending: '◷',
  failed: '!',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓',
}

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })

/** The open conversation: history (paged backwards), live messages, pending ones, receipts. */
export function MessageList({
  stream,
  title,
}: {
  readonly stream: string
  readonly title: string
}) {
  const { session, me, feeds } = useSession()
  const feed = useFeed(feeds, stream)
  const view = feed?.messages
  const messages = view?.messages ?? []
  const allPending = useSyncExternalStore(session.pending.subscribe, session.pending.all)
  const inLog = useMemo(() => new Set(messages.map((m) => m.data.cid)), [messages])
  const pending = allPending.filter((p) => p.stream === stream && !inLog.has(p.cid))
  const last = messages.at(-1)

  // Read receipts: each user's highest "seen up to".
  const seen = useMemo(() => {
    const map = new Map<string, number>()
    for (const m of feed?.seen.messages ?? []) {
      if (m.from !== null) map.set(m.from, Math.max(map.get(m.from) ?? 0, m.data.upTo))
    }
    return map
  }, [feed?.seen.messages])
  const cursors = useCursors(stream, last?.offset)

  const deliveryOf = (m: Message<ChatText>): Delivery => {
    for (const [user, upTo] of seen) if (user !== me && upTo >= m.offset) return 'read'
    for (const [user, offset] of cursors) if (user !== me && offset >= m.offset) return 'delivered'
    return 'sent'
  }

  // Reading is what the user does with this list on screen: publish "seen up to" receipts.
  const published = useRef(0)
  const mySeen = seen.get(me) ?? 0
  useEffect(() => {
    if (last === undefined || last.offset <= Math.max(mySeen, published.current)) return undefined
    const mark = (): void => {
      if (document.visibilityState !== 'visible') return
      if (last.offset <= published.current) return
      published.current = last.offset
      session.client
        .stream(seenStream(stream))
        .publish({ upTo: last.offset })
        .catch(() => {
          published.current = 0
        })
    }
    const timer = setTimeout(mark, 300)
    document.addEventListener('visibilitychange', mark)
    return () => {
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', mark)
    }
  }, [last, mySeen, session, stream])
  useEffect(() => {
    published.current = 0
  }, [stream])

  // Stick to the bottom when new messages arrive, unless the user scrolled up to read.
  const scroller = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  const firstOffset = messages[0]?.offset
  const previousHeight = useRef(0)
  const previousFirst = useRef<number | undefined>(undefined)
  useLayoutEffect(() => {
    const el = scroller.current
    if (el === null) return
    if (
      previousFirst.current !== undefined &&
      firstOffset !== undefined &&
      firstOffset < previousFirst.current
    ) {
      // Older messages were prepended: keep what the user was looking at in place.
      el.scrollTop += el.scrollHeight - previousHeight.current
    } else if (atBottom.current) el.scrollTop = el.scrollHeight
    previousHeight.current = el.scrollHeight
    previousFirst.current = firstOffset
  }, [messages.length, pending.length, firstOffset])
  useEffect(() => {
    atBottom.current = true
  }, [stream])

  const onScroll = (): void => {
    const el = scroller.current
    if (el === null) return
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    if (el.scrollTop < 80 && view?.hasOlder === true && !view.loadingOlder) void view.loadOlder()
  }

  const seenByOthers =
    last === undefined
      ? []
      : [...seen]
          .filter(([user, upTo]) => user !== me && user !== last.from && upTo >= last.offset)
          .map(([user]) => user)

  return (
    <div
      className="messages"
      ref={scroller}
      onScroll={onScroll}
      role="log"
      aria-label={`Messages in ${title}`}
      aria-live="polite"
      aria-busy={view?.status !== 'live'}
      tabIndex={0}
      data-testid="message-list"
      data-stream={stream}
      data-status={view?.status ?? 'loading'}
    >
      {view?.hasOlder === true && (
        <button
          type="button"
          className="load-older"
          onClick={() => void view.loadOlder()}
          disabled={view.loadingOlder}
        >
          {view.loadingOlder ? 'Loading…' : 'Load older messages'}
        </button>
      )}
      {view?.status === 'loading' && messages.length === 0 && (
        <p className="empty">Loading history…</p>
      )}
      {view?.status !== 'loading' && messages.length === 0 && pending.length === 0 && (
        <p className="empty">No messages yet. Say hello!</p>
      )}
      <ol className="message-items">
        {messages.map((m, i) => {
          const previous = messages[i - 1]
          const grouped =
            previous !== undefined && previous.from === m.from && m.ts - previous.ts < 5 * 60_000
          const mine = m.from === me
          return (
            <MessageItem
              key={m.offset}
              from={m.from ?? 'server'}
              text={m.data.text}
              ts={m.ts}
              offset={m.offset}
              cid={m.data.cid}
              grouped={grouped}
              delivery={mine ? deliveryOf(m) : undefined}
            />
          )
        })}
        {pending.map((p) => (
          <PendingItem key={p.cid} item={p} />
        ))}
      </ol>
      {seenByOthers.length > 0 && (
        <p className="seen-by" data-testid="seen-by">
          Seen by {seenByOthers.join(', ')}
        </p>
      )}
    </div>
  )
}

interface MessageItemProps {
  readonly from: string
  readonly text: string
  readonly ts: number
  readonly offset: number | undefined
  readonly cid: string
  readonly grouped: boolean
  readonly delivery: Delivery | undefined
}

function MessageItem({ from, text, ts, offset, cid, grouped, delivery }: MessageItemProps) {
  return (
    <li
      className={`message${grouped ? ' grouped' : ''}${delivery !== undefined ? ' mine' : ''}`}
      data-testid="message"
      data-offset={offset}
      data-cid={cid}
      data-delivery={delivery}
    >
      {!grouped && <Avatar user={from} />}
      <div className="message-body">
        {!grouped && (
          <div className="message-meta">
            <span className="message-from">{from}</span>
            <time dateTime={new Date(ts).toISOString()}>{time.format(ts)}</time>
          </div>
        )}
        <p className="message-text" data-testid="message-text">
          {text}
          {delivery !== undefined && (
            <span className={`delivery delivery-${delivery}`} title={DELIVERY_LABEL[delivery]}>
              <span aria-hidden="true">{DELIVERY_ICON[delivery]}</span>
              <span className="visually-hidden">{DELIVERY_LABEL[delivery]}</span>
            </span>
          )}
        </p>
      </div>
    </li>
  )
}

function PendingItem({ item }: { readonly item: PendingMessage }) {
  const { session, me } = useSession()
  const retry = (): void => {
    session.pending.update(item.cid, { state: 'pending' })
    session.client
      .stream<ChatText>(item.stream)
      .publish({ type: 'text', text: item.text, cid: item.cid })
      .then(
        () => session.pending.update(item.cid, { state: 'sent' }),
        (error: Error) =>
          session.pending.update(item.cid, { state: 'failed', error: error.message }),
      )
  }
  return (
    <li
      className="message mine pending"
      data-testid="message"
      data-cid={item.cid}
      data-delivery={item.state}
    >
      <Avatar user={me} />
      <div className="message-body">
        <div className="message-meta">
          <span className="message-from">{me}</span>
          <time dateTime={new Date(item.createdAt).toISOString()}>
            {time.format(item.createdAt)}
          </time>
        </div>
        <p className="message-text" data-testid="message-text">
          {item.text}
          <span className={`delivery delivery-${item.state}`} title={DELIVERY_LABEL[item.state]}>
            <span aria-hidden="true">{DELIVERY_ICON[item.state]}</span>
            <span className="visually-hidden">{DELIVERY_LABEL[item.state]}</span>
          </span>
        </p>
        {item.state === 'failed' && (
          <p className="failed">
            Not sent{item.error === undefined ? '' : ` (${item.error})`}.{' '}
            <button type="button" className="link" onClick={retry}>
              Retry
            </button>
          </p>
        )}
      </div>
    </li>
  )
}
