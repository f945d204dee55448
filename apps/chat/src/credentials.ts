import type { Credentials } from './chat-session.js'

// Where the chat keeps who is signed in (docs/decisions.md, "The chat keeps its token in the
// tab"). A token is a bearer credential: it lives in this module's memory and, so that a reload
// stays signed in, in this tab's sessionStorage — never in localStorage, which every document of
// the origin can read, in every tab, for as long as the browser keeps it. A name signed in with
// dev auth is no credential (the server believes any name from anyone): it is remembered in
// localStorage, so a new tab opens signed in.

/** sessionStorage: the credentials of this tab. */
const TAB_KEY = 'seqline-chat:tab-credentials'
/** localStorage: the last name signed in with dev auth. */
const DEV_NAME_KEY = 'seqline-chat:dev-name'
/** localStorage key of earlier versions, which kept the token itself there. */
const LEGACY_KEY = 'seqline-chat:credentials'

let current: Credentials | undefined

/** Who is signed in in this tab: memory, else this tab's sessionStorage, else a dev-auth name. */
export function loadCredentials(): Credentials | undefined {
  removeItem(localStorageOrUndefined(), LEGACY_KEY)
  if (current !== undefined) return current
  const saved = parseCredentials(getItem(sessionStorageOrUndefined(), TAB_KEY))
  if (saved !== undefined) return (current = saved)
  const name = getItem(localStorageOrUndefined(), DEV_NAME_KEY)
  return name === undefined || name === '' ? undefined : (current = devCredentials(name))
}

/** Signs this tab in (or out, with `undefined`). */
export function saveCredentials(credentials: Credentials | undefined): void {
  current = credentials
  const tab = sessionStorageOrUndefined()
  const shared = localStorageOrUndefined()
  if (credentials === undefined) {
    removeItem(tab, TAB_KEY)
    removeItem(shared, DEV_NAME_KEY)
    return
  }
  setItem(tab, TAB_KEY, JSON.stringify(credentials))
  if (credentials.kind === 'dev') setItem(shared, DEV_NAME_KEY, credentials.user)
  else removeItem(shared, DEV_NAME_KEY)
}

/** The credentials of a name signed in with dev auth (the token is the name). */
export function devCredentials(name: string): Credentials {
  return { kind: 'dev', token: name, user: name }
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

function parseCredentials(text: string | undefined): Credentials | undefined {
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text) as Partial<Credentials>
    if (
      (value.kind === 'dev' || value.kind === 'jwt') &&
      typeof value.token === 'string' &&
      typeof value.user === 'string'
    ) {
      return { kind: value.kind, token: value.token, user: value.user }
    }
  } catch {
    // Unreadable: signed out.
  }
  return undefined
}

// Storage may be unavailable (disabled, or a sandboxed document): the chat then keeps the
// credentials in memory only.

function sessionStorageOrUndefined(): Storage | undefined {
  try {
    return sessionStorage
  } catch {
    return undefined
  }
}

function localStorageOrUndefined(): Storage | undefined {
  try {
    return localStorage
  } catch {
    return undefined
  }
}

function getItem(storage: Storage | undefined, key: string): string | undefined {
  try {
    return storage?.getItem(key) ?? undefined
  } catch {
    return undefined
  }
}

function setItem(storage: Storage | undefined, key: string, value: string): void {
  try {
    storage?.setItem(key, value)
  } catch {
    // Full or disabled: memory still holds it for this page.
  }
}

function removeItem(storage: Storage | undefined, key: string): void {
  try {
    storage?.removeItem(key)
  } catch {
    // Disabled: nothing was kept there.
  }
}
