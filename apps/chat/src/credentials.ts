import type { Credentials } from './chat-session.js'

const KEY = 'seqline-chat:credentials'

/**
 * Who is signed in, shared by the tabs of the browser (localStorage), so a new tab opens signed
 * in — as a new Seqline client of the same user.
 */
export function loadCredentials(): Credentials | undefined {
  try {
    const text = localStorage.getItem(KEY)
    return text === null ? undefined : (JSON.parse(text) as Credentials)
  } catch {
    return undefined
  }
}

export function saveCredentials(credentials: Credentials | undefined): void {
  if (credentials === undefined) localStorage.removeItem(KEY)
  else localStorage.setItem(KEY, JSON.stringify(credentials))
}

/** The user id a JWT names (its `sub`), for display; the server verifies the token itself. */
export function jwtSubject(token: string): string | undefined {
  try {
    const payload = token.split('.')[1]
    if (payload === undefined) return undefined
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    const sub = (JSON.parse(json) as { sub?: unknown }).sub
    return typeof sub === 'string' ? sub : undefined
  } catch {
    return undefined
  }
}
