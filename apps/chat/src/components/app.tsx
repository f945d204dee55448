import { useEffect, useState } from 'react'
import { type ChatSession, type Credentials, createChatSession } from '../chat-session.js'
import { loadCredentials, saveCredentials } from '../credentials.js'
import { ChatApp } from './chat-app.js'
import { SignIn } from './sign-in.js'

// One session per tab and token: StrictMode runs state initialisers twice in development, and a
// second session would be a second Seqline client.
let cached: ChatSession | undefined

function sessionFor(credentials: Credentials): ChatSession {
  if (cached?.credentials.token !== credentials.token) cached = createChatSession(credentials)
  return cached
}

/** Signed out: the sign-in form. Signed in: the chat, on one session per tab. */
export function App() {
  const [session, setSession] = useState<ChatSession | undefined>(() => {
    const saved = loadCredentials()
    return saved === undefined ? undefined : sessionFor(saved)
  })

  // In JWT mode the user id shown is the token's `sub`; the server's answer is the truth.
  useEffect(() => {
    if (session === undefined) return undefined
    return session.client.on('identity', ({ userId }) => {
      if (userId !== session.credentials.user) {
        saveCredentials({ ...session.credentials, user: userId })
        location.reload()
      }
    })
  }, [session])

  const signIn = (credentials: Credentials): void => {
    saveCredentials(credentials)
    setSession(sessionFor(credentials))
  }
  const signOut = (): void => {
    saveCredentials(undefined)
    void session?.close()
    cached = undefined
    sessionStorage.clear()
    setSession(undefined)
  }
  if (session === undefined) return <SignIn onSignIn={signIn} />
  return <ChatApp key={session.credentials.user} session={session} onSignOut={signOut} />
}
