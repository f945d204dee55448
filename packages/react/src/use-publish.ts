import type { PublishResult } from '@seqline/client'
import { useCallback } from 'react'
import { useSeqlineClient } from './seqline-context.js'

/**
 * A stable function that publishes to `stream` through the client's persistent outbox: it works
 * offline (the publish is stored and sent on reconnect) and resolves with the committed offset.
 *
 * @example
 * const publish = usePublish<{ text: string }>('room:general')
 * await publish({ text: 'hi' })
 */
export function usePublish<T = unknown>(stream: string): (data: T) => Promise<PublishResult> {
  const client = useSeqlineClient()
  return useCallback((data: T) => client.stream<T>(stream).publish(data), [client, stream])
}
