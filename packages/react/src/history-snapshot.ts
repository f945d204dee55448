import type { Message } from '@seqline/client'
import type { OlderPage, SnapshotRequest, StreamSnapshot } from './stream-snapshot.js'

/** Options of {@link historySnapshot}. */
export interface HistorySnapshotOptions {
  /** The server's http(s) base URL. */
  readonly url: string
  /** The user's token (the same as the client's), or a function returning a fresh one. */
  readonly token: string | (() => string | Promise<string>)
  /** Messages per page. Default 50 (the server caps it at 500). */
  readonly pageSize?: number
  /** `fetch` to use; tests and the chat's "offline" switch pass their own. */
  readonly fetch?: typeof fetch
}

/** A `snapshot` for {@link useStream}, with the matching `older` loader. */
export interface HistorySnapshot<T> {
  (request: SnapshotRequest): Promise<StreamSnapshot<T>>
  readonly older: (stream: string, before: number) => Promise<OlderPage<T>>
}

interface HistoryPage {
  readonly stream: string
  readonly epoch: string | null
  readonly head: number
  readonly tail: number
  readonly messages: readonly Omit<Message, 'stream' | 'epoch'>[]
}

/**
 * Snapshots from the Seqline server's `GET /v1/history/<stream>?before=&limit=`: the latest page
 * (or the page ending at a resume position), with each message's sender and time.
 *
 * @example
 * const snapshot = historySnapshot({ url: location.origin, token: userToken })
 * useStream('room:general', { snapshot, older: snapshot.older })
 */
export function historySnapshot<T = unknown>(options: HistorySnapshotOptions): HistorySnapshot<T> {
  const pageSize = options.pageSize ?? 50
  const page = async (stream: string, before: number | undefined): Promise<HistoryPage> => {
    const doFetch = options.fetch ?? fetch
    const token = typeof options.token === 'string' ? options.token : await options.token()
    const query = new URLSearchParams({ limit: String(pageSize) })
    if (before !== undefined) query.set('before', String(before))
    const base = options.url.replace(/\/+$/, '')
    const res = await doFetch(
      `${base}/v1/history/${encodeURIComponent(stream)}?${query.toString()}`,
      { headers: { authorization: `Bearer ${token}` } },
    )
    if (!res.ok) {
      const body = (await res.json().catch(() => undefined)) as
        { error?: { code?: string; message?: string } } | undefined
      throw new Error(
        `history of ${stream} failed: ${res.status} ${body?.error?.code ?? ''} ${body?.error?.message ?? ''}`.trim(),
      )
    }
    return (await res.json()) as HistoryPage
  }
  const toMessages = (result: HistoryPage): Message<T>[] =>
    result.messages.map(
      (m) => ({ ...m, stream: result.stream, epoch: result.epoch ?? '' }) as Message<T>,
    )
  const hasOlder = (result: HistoryPage): boolean => {
    const first = result.messages[0]
    return first !== undefined && first.offset > result.tail
  }

  const snapshot = async (request: SnapshotRequest): Promise<StreamSnapshot<T>> => {
    if (request.kind === 'resume') {
      const result = await page(request.stream, request.position.offset + 1)
      if (result.epoch !== request.position.epoch) {
        // The stream was recreated: the position means nothing here. Show nothing; the SDK's
        // resume gets a `reset` and the view is replaced from a fresh snapshot.
        return { position: request.position, messages: [], hasOlder: false }
      }
      return {
        position: request.position,
        messages: toMessages(result),
        hasOlder: hasOlder(result),
      }
    }
    const result = await page(request.stream, undefined)
    return {
      position: result.epoch === null ? undefined : { epoch: result.epoch, offset: result.head },
      messages: toMessages(result),
      hasOlder: hasOlder(result),
    }
  }
  const older = async (stream: string, before: number): Promise<OlderPage<T>> => {
    const result = await page(stream, before)
    return { messages: toMessages(result), hasOlder: hasOlder(result) }
  }
  return Object.assign(snapshot, { older })
}
