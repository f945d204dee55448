import { useConnectionState, useSignal } from '@seqline/react'
import { useCallback, useEffect, useRef, useState } from 'react'
import type { TypingSignal } from './chat-model.js'

const SHOW_MS = 3_500
const SEND_EVERY_MS = 2_000

/**
 * Typing indicators over Seqline signals (ephemeral: never stored, dropped when offline). Returns
 * who else is typing in `stream` and a function to call on every keystroke (throttled).
 */
export function useTyping(stream: string): { typing: readonly string[]; keystroke: () => void } {
  const [typing, setTyping] = useState<ReadonlyMap<string, number>>(() => new Map())
  const send = useSignal<TypingSignal>(stream, (signal) => {
    setTyping((current) => {
      const next = new Map(current)
      if (signal.data.typing) next.set(signal.from, Date.now() + SHOW_MS)
      else next.delete(signal.from)
      return next
    })
  })
  // Signals stop with the connection: whoever was typing may have stopped meanwhile.
  const { kind } = useConnectionState()
  useEffect(() => setTyping(new Map()), [stream, kind])
  useEffect(() => {
    if (typing.size === 0) return undefined
    const timer = setInterval(() => {
      setTyping((current) => {
        const now = Date.now()
        const next = new Map([...current].filter(([, until]) => until > now))
        return next.size === current.size ? current : next
      })
    }, 500)
    return () => clearInterval(timer)
  }, [typing.size])
  const lastSent = useRef(0)
  const keystroke = useCallback(() => {
    const now = Date.now()
    if (now - lastSent.current < SEND_EVERY_MS) return
    lastSent.current = now
    send({ typing: true })
  }, [send])
  return { typing: [...typing.keys()].sort(), keystroke }
}
