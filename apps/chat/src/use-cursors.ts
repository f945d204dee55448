import { useEffect, useState } from 'react'
import { useSession } from './session-context.js'

const POLL_MS = 2_500

/**
 * Per user, the highest offset any of their clients has acked on `stream` (server-side cursors,
 * `GET /v1/cursors/<stream>`): a message at or below it was delivered to that user. Polled while
 * the page is visible; cursors are written by acks, which are not pushed to other users.
 */
export function useCursors(stream: string, refreshKey: unknown): ReadonlyMap<string, number> {
  const { session } = useSession()
  const [cursors, setCursors] = useState<ReadonlyMap<string, number>>(() => new Map())
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async (): Promise<void> => {
      try {
        if (document.visibilityState === 'visible') {
          const res = await session.fetch(`/v1/cursors/${encodeURIComponent(stream)}`, {
            headers: { authorization: `Bearer ${session.credentials.token}` },
          })
          if (res.ok) {
            const body = (await res.json()) as { cursors: { user: string; offset: number }[] }
            const next = new Map<string, number>()
            for (const c of body.cursors)
              next.set(c.user, Math.max(next.get(c.user) ?? 0, c.offset))
            if (!stopped) setCursors(next)
          }
        }
      } catch {
        // Offline: the next poll tries again.
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS)
    }
    void poll()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [session, stream, refreshKey])
  return cursors
}
