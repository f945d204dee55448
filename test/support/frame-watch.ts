import type { ServerFrame } from '@seqline/protocol'
import type { RawClient } from './ws-test-client.js'

/**
 * Calls `listener` for every frame `client` receives from now on (and, with `fromStart`, for the
 * frames it already holds), in order. Frames are taken from `client.frames`, so nothing is parsed
 * twice and nothing is missed between two events. Returns the disposer.
 *
 * @example
 * const offsets: number[] = []
 * watchFrames(c, (f) => f.t === 'msg' && offsets.push(f.offset), { fromStart: true })
 */
export function watchFrames(
  client: RawClient,
  listener: (frame: ServerFrame) => void,
  options: { readonly fromStart?: boolean } = {},
): () => void {
  let next = options.fromStart === true ? 0 : client.frames.length
  const drain = (): void => {
    while (next < client.frames.length) listener(client.frames[next++] as ServerFrame)
  }
  drain()
  // `connectRaw` registered its own listener first, so `client.frames` is up to date here.
  client.socket.on('message', drain)
  return () => client.socket.off('message', drain)
}

/**
 * Resolves once `condition()` holds, checked now and after every frame `client` receives. Rejects
 * after `timeoutMs` or when the socket closes first, naming `what` and the last frames.
 *
 * @example
 * await waitUntil(c, () => acked.size === 300, { what: '300 pubacks' })
 */
export function waitUntil(
  client: RawClient,
  condition: () => boolean,
  options: { readonly what: string; readonly timeoutMs?: number },
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise<void>((resolve, reject) => {
    let finished = false
    const finish = (err?: Error): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      client.socket.off('message', check)
      if (err === undefined) resolve()
      else reject(err)
    }
    const check = (): void => {
      if (condition()) finish()
    }
    const timer = setTimeout(
      () => finish(new Error(`Not ${options.what} within ${timeoutMs} ms; ${recent(client)}`)),
      timeoutMs,
    )
    client.socket.on('message', check)
    void client.closed.then((info) => {
      // A last frame may have arrived together with the close.
      if (condition()) finish()
      else
        finish(new Error(`Socket closed (${info.code}) before ${options.what}; ${recent(client)}`))
    })
    check()
  })
}

function recent(client: RawClient): string {
  const tail = client.frames.slice(-3).map((f) => JSON.stringify(f))
  return `${client.frames.length} frames received, last: ${tail.join(', ') || '(none)'}`
}
