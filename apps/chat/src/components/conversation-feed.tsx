import { useStream } from '@seqline/react'
import { useEffect, useLayoutEffect } from 'react'
import { type ChatText, type SeenReceipt, seenStream } from '../chat-model.js'
import { useSession } from '../session-context.js'

/**
 * Follows one conversation and its read receipts for as long as the user is in it, whether or
 * not it is on screen: that is what keeps unread counts live and makes the SDK ack each message
 * as delivered to this tab. Renders nothing; publishes its views to the feed registry.
 */
export function ConversationFeed({ stream }: { readonly stream: string }): null {
  const { session, me, feeds, history } = useSession()
  const applied = (): void => session.stats.add('applied')
  const messages = useStream<ChatText>(stream, {
    snapshot: history.messages,
    older: history.messages.older,
    onMessage: applied,
  })
  const seen = useStream<SeenReceipt>(seenStream(stream), {
    snapshot: history.seen,
    onMessage: applied,
  })

  useLayoutEffect(() => {
    feeds.set(stream, { messages, seen })
  }, [feeds, stream, messages, seen])
  useEffect(() => () => feeds.set(stream, undefined), [feeds, stream])

  // A message of ours that is in the log is no longer pending (this tab's, or restored after a
  // reload and re-sent by the SDK's outbox).
  useEffect(() => {
    const cids = new Set<string>()
    for (const m of messages.messages) if (m.from === me) cids.add(m.data.cid)
    session.pending.settle(cids)
  }, [messages.messages, me, session])
  return null
}
