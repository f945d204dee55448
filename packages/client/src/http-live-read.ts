import type { ServerFrame, StartFrom } from '@seqline/protocol'
import { offsetToPosition, positionToOffset, sameEpoch } from './offset-token.js'

/** What a {@link liveRead} needs from its HTTP link. */
export interface LiveReadContext {
  /** `fetch` with the link's base URL, token and abort signal applied. */
  request(path: string, init?: RequestInit): Promise<Response>
  emit(frame: ServerFrame): void
  /** The read saw bytes: the link is alive. */
  alive(): void
  /** A fault that ends the whole link (network error, unexpected status). */
  fail(error: unknown): void
  /** Creates the stream (a WebSocket `sub` does that too); false when refused. */
  create(stream: string): Promise<boolean>
}

/** A running live read; `stop()` ends it without a frame. */
export interface LiveRead {
  /** Time of the last byte received (or of the start). */
  readonly lastActivity: number
  stop(): void
}

/**
 * Follows one stream over Durable Streams SSE (§5.8) and speaks WebSocket frames: each JSON `data`
 * event becomes `msg` frames once its `control` event says where the batch ends (offsets count
 * messages, so the k-th of n messages ending at `streamNextOffset` has offset `next - n + k`),
 * the first `upToDate` becomes `caughtUp`, and a `410 Gone` — the position is below the tail or of
 * another epoch — becomes `reset`, after which it continues live from the head like the server's
 * WebSocket subscription does. A read the server ends (it does every ~60 s, §10.2) is reopened
 * from the last offset.
 */
export function liveRead(
  stream: string,
  from: StartFrom | undefined,
  ctx: LiveReadContext,
  now: () => number,
): LiveRead {
  let stopped = false
  const abort = new AbortController()
  const signal = abort.signal
  const state = { lastActivity: now() }
  const base = `/v1/stream/${encodeURIComponent(stream)}`
  const requested = typeof from === 'object' ? from : undefined
  let offset =
    requested !== undefined ? positionToOffset(requested) : from === 'earliest' ? '-1' : 'now'
  let caughtUp = false
  let recovered = requested !== undefined

  const reset = async (status: number): Promise<void> => {
    const res = await ctx.request(`${base}?offset=now`, { signal })
    const head = offsetToPosition(res.headers.get('stream-next-offset') ?? '')
    await res.body?.cancel()
    if (!res.ok || head === undefined) throw new Error(`HTTP ${res.status} reading the head`)
    const ahead = status !== 410
    ctx.emit({
      t: 'reset',
      stream,
      reason: ahead
        ? 'ahead'
        : requested !== undefined && !sameEpoch(requested.epoch, head.epoch)
          ? 'epoch'
          : 'truncated',
      epoch: head.epoch,
      head: head.offset,
      // Not known over HTTP: the tail is not exposed by the Durable Streams endpoints.
      tail: 0,
    })
    recovered = false
    // As over WebSocket, a reset is followed by `caughtUp` once the read reaches the head again:
    // the resync waits for it, also when this read had caught up before the history was trimmed.
    caughtUp = false
    offset = positionToOffset(head)
  }

  const follow = async (res: Response): Promise<void> => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    let batch: unknown[] = []
    for (;;) {
      const { value, done } = await reader.read()
      if (done || stopped) return
      state.lastActivity = now()
      ctx.alive()
      buffer += value
      let end: number
      // Events end with a blank line; the server writes `\n` line ends (sse-session.ts).
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let type = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim()
          else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5))
        }
        if (type === 'data') batch = JSON.parse(data.join('\n')) as unknown[]
        else if (type === 'control') {
          const control = JSON.parse(data.join('\n')) as {
            streamNextOffset: string
            upToDate?: boolean
          }
          const next = offsetToPosition(control.streamNextOffset)
          if (next === undefined) continue
          batch.forEach((data, i) => {
            ctx.emit({
              t: 'msg',
              stream,
              offset: next.offset - batch.length + 1 + i,
              epoch: next.epoch,
              // The envelope does not travel over HTTP (DESIGN §6): only the values do.
              producer: null,
              seq: null,
              from: null,
              ts: null as unknown as number,
              data,
            })
          })
          batch = []
          offset = control.streamNextOffset
          if (control.upToDate === true && !caughtUp) {
            caughtUp = true
            ctx.emit({ t: 'caughtUp', stream, epoch: next.epoch, head: next.offset, recovered })
          }
        }
      }
    }
  }

  const run = async (): Promise<void> => {
    while (!stopped) {
      const res = await ctx.request(`${base}?offset=${encodeURIComponent(offset)}&live=sse`, {
        signal,
      })
      if (stopped) {
        await res.body?.cancel()
        return
      }
      if (res.status === 200) {
        await follow(res)
        continue
      }
      await res.body?.cancel()
      if (res.status === 410 || (res.status === 400 && requested !== undefined)) {
        await reset(res.status)
      } else if (res.status === 404) {
        if (!(await ctx.create(stream))) return
      } else if (res.status === 401 || res.status === 403) {
        const code = res.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN'
        ctx.emit({ t: 'error', code, message: `HTTP ${res.status} reading ${stream}`, stream })
        return
      } else throw new Error(`HTTP ${res.status} reading ${stream}`)
    }
  }

  run().catch((error: unknown) => {
    if (!stopped) ctx.fail(error)
  })
  return {
    get lastActivity() {
      return state.lastActivity
    },
    stop() {
      stopped = true
      abort.abort()
    },
  }
}
