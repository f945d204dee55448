import { type FormEvent, type KeyboardEvent, useRef, useState } from 'react'
import type { ChatText } from '../chat-model.js'
import { useSession } from '../session-context.js'

/**
 * The message box. Enter sends, Shift+Enter adds a line. A message is written to the pending
 * list and the SDK's persistent outbox at once, so it is never lost: offline it waits, and it is
 * sent exactly once when the connection is back (idempotent producer, G4).
 */
export function Composer({
  stream,
  title,
  onKeystroke,
}: {
  readonly stream: string
  readonly title: string
  readonly onKeystroke: () => void
}) {
  const { session } = useSession()
  const [text, setText] = useState('')
  const input = useRef<HTMLTextAreaElement>(null)

  const send = (): void => {
    const body = text.trim()
    if (body === '') return
    const cid = crypto.randomUUID()
    session.pending.add({ cid, stream, text: body, createdAt: Date.now(), state: 'pending' })
    session.client
      .stream<ChatText>(stream)
      .publish({ type: 'text', text: body, cid })
      .then(
        () => session.pending.update(cid, { state: 'sent' }),
        (error: Error) => {
          // CLIENT_CLOSED (signing out, a reload): the outbox keeps it and the next page sends it.
          if ((error as { code?: string }).code !== 'CLIENT_CLOSED') {
            session.pending.update(cid, { state: 'failed', error: error.message })
          }
        },
      )
    setText('')
    input.current?.focus()
  }

  const onSubmit = (event: FormEvent): void => {
    event.preventDefault()
    send()
  }
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      send()
    }
  }

  return (
    <form className="composer" onSubmit={onSubmit}>
      <label htmlFor="composer-input" className="visually-hidden">
        Message {title}
      </label>
      <textarea
        id="composer-input"
        ref={input}
        value={text}
        rows={1}
        placeholder={`Message ${title}`}
        autoComplete="off"
        onChange={(e) => {
          setText(e.target.value)
          if (e.target.value !== '') onKeystroke()
        }}
        onKeyDown={onKeyDown}
        data-testid="composer"
      />
      <button
        type="submit"
        className="send"
        disabled={text.trim() === ''}
        aria-label="Send message"
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path d="M3 20.5 21 12 3 3.5 3 10l12 2-12 2z" fill="currentColor" />
        </svg>
      </button>
    </form>
  )
}
