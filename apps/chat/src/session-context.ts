import { historySnapshot, type HistorySnapshot } from '@seqline/react'
import { createContext, useContext } from 'react'
import type { ChatSession } from './chat-session.js'
import type { ChatText, DirectoryEvent, SeenReceipt } from './chat-model.js'
import type { FeedRegistry } from './feed-registry.js'

/** What every component of a signed-in tab can reach. */
export interface SessionValue {
  readonly session: ChatSession
  readonly me: string
  readonly feeds: FeedRegistry
  readonly history: {
    readonly messages: HistorySnapshot<ChatText>
    readonly directory: HistorySnapshot<DirectoryEvent>
    readonly seen: HistorySnapshot<SeenReceipt>
  }
}

export const SessionContext = createContext<SessionValue | undefined>(undefined)

/** The signed-in session; only used below `<ChatApp>`. */
export function useSession(): SessionValue {
  const value = useContext(SessionContext)
  if (value === undefined) throw new Error('useSession outside <ChatApp>')
  return value
}

/** Snapshot loaders for the three kinds of streams, over the session's (switchable) fetch. */
export function createHistories(session: ChatSession): SessionValue['history'] {
  const base = { url: location.origin, token: session.credentials.token, fetch: session.fetch }
  return {
    messages: historySnapshot<ChatText>({ ...base, pageSize: 50 }),
    directory: historySnapshot<DirectoryEvent>({ ...base, pageSize: 500 }),
    seen: historySnapshot<SeenReceipt>({ ...base, pageSize: 200 }),
  }
}
