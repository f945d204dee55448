/** What a Durable Streams catch-up read of a JSON stream returned. */
export interface StreamContents<T = unknown> {
  /** Every value from the requested offset to the head, in order. */
  readonly values: T[]
  /** `Stream-Next-Offset` of the last response: the token of the position after `values`. */
  readonly nextOffset: string
}

/**
 * Reads a JSON stream over HTTP (`GET /v1/stream/<name>?offset=…`, Durable Streams catch-up mode),
 * following `Stream-Next-Offset` until `Stream-Up-To-Date`. Throws on a non-200 answer, with its
 * status in the message (`410` when the offset is below the retained tail).
 *
 * @example
 * const { values } = await readJsonStream(server.url, 'room:a', { token: 'alice' })
 */
export async function readJsonStream<T = unknown>(
  baseUrl: string,
  stream: string,
  options: { readonly token?: string; readonly offset?: string } = {},
): Promise<StreamContents<T>> {
  const values: T[] = []
  let offset = options.offset ?? '-1'
  for (;;) {
    const res = await fetch(
      `${baseUrl}/v1/stream/${encodeURIComponent(stream)}?offset=${encodeURIComponent(offset)}`,
      { headers: { authorization: `Bearer ${options.token ?? 'reader'}` } },
    )
    if (res.status !== 200) {
      throw new Error(`GET ${stream} at ${offset}: HTTP ${res.status} ${await res.text()}`)
    }
    values.push(...((await res.json()) as T[]))
    offset = res.headers.get('stream-next-offset') ?? offset
    if (res.headers.get('stream-up-to-date') === 'true') return { values, nextOffset: offset }
  }
}
