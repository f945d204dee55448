import { type FormEvent, useState } from 'react'
import type { Credentials } from '../chat-session.js'
import { userId } from '../chat-model.js'
import { devCredentials, jwtSubject } from '../credentials.js'

/** Sign in by name (the server's dev auth), or with a JWT when the server is configured for it. */
export function SignIn({ onSignIn }: { readonly onSignIn: (credentials: Credentials) => void }) {
  const [name, setName] = useState('')
  const [token, setToken] = useState('')
  const [useJwt, setUseJwt] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)

  const submit = (event: FormEvent): void => {
    event.preventDefault()
    if (useJwt) {
      const user = jwtSubject(token.trim())
      if (user === undefined) {
        setError('That does not look like a JWT with a "sub" claim.')
        return
      }
      onSignIn({ kind: 'jwt', token: token.trim(), user })
      return
    }
    const id = userId(name)
    if (id === '') {
      setError('Please enter a name: letters, digits, dot, dash or underscore.')
      return
    }
    onSignIn(devCredentials(id))
  }

  return (
    <main className="sign-in">
      <form
        className="card"
        onSubmit={submit}
        aria-describedby={error === undefined ? undefined : 'sign-in-error'}
      >
        <div className="brand big">
          <span className="logo" aria-hidden="true" />
          <span>Seqline Chat</span>
        </div>
        <p className="subtle">Realtime chat that never loses, doubles or reorders a message.</p>
        {useJwt ? (
          <>
            <label htmlFor="token">JSON Web Token</label>
            <textarea
              id="token"
              rows={4}
              value={token}
              onChange={(e) => setToken(e.target.value)}
              required
            />
          </>
        ) : (
          <>
            <label htmlFor="name">Your name</label>
            <input
              id="name"
              autoFocus
              autoComplete="username"
              placeholder="e.g. alice"
              value={name}
              onChange={(e) => setName(e.target.value)}
              data-testid="sign-in-name"
            />
          </>
        )}
        {error !== undefined && (
          <p id="sign-in-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" data-testid="sign-in">
          Sign in
        </button>
        <button type="button" className="link" onClick={() => setUseJwt((j) => !j)}>
          {useJwt ? 'Sign in with a name (dev mode)' : 'The server uses JWT? Sign in with a token'}
        </button>
        {!useJwt && (
          <p className="hint">
            Dev mode: the server trusts the name you type. Run it with <code>--auth jwt:…</code> for
            real sign-in.
          </p>
        )}
      </form>
    </main>
  )
}
