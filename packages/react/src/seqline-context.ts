import type { SeqlineClient } from '@seqline/client'
import { createContext, useContext } from 'react'
import type { SyncTracker } from './sync-tracker.js'

/** What {@link SeqlineProvider} puts in context. */
export interface SeqlineContextValue {
  readonly client: SeqlineClient
  readonly sync: SyncTracker
}

/** The React context behind the hooks; use {@link SeqlineProvider} rather than this directly. */
export const SeqlineContext = createContext<SeqlineContextValue | undefined>(undefined)

/** The context value; throws a clear error outside a {@link SeqlineProvider}. */
export function useSeqlineContext(): SeqlineContextValue {
  const value = useContext(SeqlineContext)
  if (value === undefined) {
    throw new Error('Seqline hooks must be used inside <SeqlineProvider client={…}>')
  }
  return value
}

/**
 * The {@link SeqlineClient} given to the nearest {@link SeqlineProvider}, for what the hooks do
 * not cover (client events, `flushed()`, `pendingPublishes`).
 */
export function useSeqlineClient(): SeqlineClient {
  return useSeqlineContext().client
}
