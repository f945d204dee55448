import type { SeqlineClient } from '@seqline/client'
import { type ReactNode, useMemo } from 'react'
import { SeqlineContext } from './seqline-context.js'
import { SyncTracker } from './sync-tracker.js'

/** Props of {@link SeqlineProvider}. */
export interface SeqlineProviderProps {
  /**
   * The client the hooks below use. Create it once (outside render, or in a `useState`
   * initialiser) and close it yourself: the provider does not own its lifetime, so that a
   * re-render or React's StrictMode double mount never opens a second connection.
   */
  readonly client: SeqlineClient
  readonly children?: ReactNode
}

/**
 * Makes a Seqline client available to the hooks ({@link useStream}, {@link usePresence},
 * {@link usePublish}, {@link useConnectionState}, {@link useSignal}).
 *
 * @example
 * const client = createClient({ url: location.origin, token: 'alice' })
 * createRoot(el).render(
 *   <SeqlineProvider client={client}>
 *     <App />
 *   </SeqlineProvider>,
 * )
 */
export function SeqlineProvider({ client, children }: SeqlineProviderProps): ReactNode {
  const value = useMemo(() => ({ client, sync: new SyncTracker() }), [client])
  return <SeqlineContext.Provider value={value}>{children}</SeqlineContext.Provider>
}
