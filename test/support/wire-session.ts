import type {
  CaughtUpFrame,
  HelloFrame,
  MsgFrame,
  NackFrame,
  PubackFrame,
  ResetFrame,
  ServerFrame,
  StartFrom,
  WelcomeFrame,
} from '@seqline/protocol'
import { setTimeout as delay } from 'node:timers/promises'
import { watchFrames, waitUntil } from './frame-watch.js'
import { type RawClient, connectRaw } from './ws-test-client.js'

/** A raw connection whose `hello` was accepted. */
export interface GreetedClient {
  readonly client: RawClient
  readonly welcome: WelcomeFrame
}

/**
 * Connects and says `hello`; resolves with the `welcome`, rejects with the refusal otherwise.
 *
 * @example
 * const { client, welcome } = await greet(server.wsUrl, { token: 'alice' })
 */
export async function greet(
  wsUrl: string,
  hello: Omit<HelloFrame, 't'>,
  options: { readonly timeoutMs?: number } = {},
): Promise<GreetedClient> {
  const client = await connectRaw(wsUrl, { timeoutMs: options.timeoutMs ?? 5_000 })
  client.send({ t: 'hello', ...hello })
  const first = await client.next(undefined, options.timeoutMs)
  if (first.t !== 'welcome') {
    client.destroy()
    throw new Error(`hello refused: ${JSON.stringify(first)}`)
  }
  return { client, welcome: first }
}

/** The reply to one publish. */
export type PubReply = PubackFrame | NackFrame

/** Options of {@link publishMany}. */
export interface PublishManyOptions {
  readonly stream: string
  /** Producer epoch. */
  readonly epoch: number
  /** Producer seqs, sent in this order. */
  readonly seqs: readonly number[]
  readonly data: (seq: number) => unknown
  /** Most publishes awaiting their reply at once. Default: all of them (fully pipelined). */
  readonly window?: number
  readonly timeoutMs?: number
}

/**
 * Pipelines one `pub` per seq and resolves with every reply (`puback` or `nack`) in arrival
 * order, once each publish has one.
 */
export async function publishMany(
  client: RawClient,
  options: PublishManyOptions,
): Promise<PubReply[]> {
  const { stream, epoch, seqs } = options
  const window = options.window ?? seqs.length
  const replies: PubReply[] = []
  let sent = 0
  const sendMore = (): void => {
    while (sent < seqs.length && sent - replies.length < window) {
      const seq = seqs[sent++] as number
      client.send({ t: 'pub', stream, epoch, seq, data: options.data(seq) })
    }
  }
  const stop = watchFrames(client, (frame) => {
    if ((frame.t === 'puback' || frame.t === 'nack') && frame.stream === stream) {
      replies.push(frame)
      sendMore()
    }
  })
  try {
    sendMore()
    await waitUntil(client, () => replies.length >= seqs.length, {
      what: `${seqs.length} publish replies on ${stream}`,
      timeoutMs: options.timeoutMs ?? 20_000,
    })
  } finally {
    stop()
  }
  return replies
}

/** `0, 1, …, count - 1` shifted by `from`. */
export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i)
}

/** What a fresh subscription saw up to its `caughtUp`. */
export interface Catchup {
  readonly msgs: MsgFrame[]
  readonly resets: ResetFrame[]
  readonly caughtUp: CaughtUpFrame
  /** Every frame of the stream (msg, reset, caughtUp, error) in arrival order. */
  readonly frames: ServerFrame[]
}

/**
 * Collects what `client` receives for `stream` (presence aside) up to and including `caughtUp`:
 * from now on, or with `fromStart` also what it already received (a `resume` in `hello`).
 * Rejects on an `error` frame for the stream, or after `timeoutMs`.
 */
export async function collectUntilCaughtUp(
  client: RawClient,
  stream: string,
  options: { readonly fromStart?: boolean; readonly timeoutMs?: number } = {},
): Promise<Catchup> {
  const frames: ServerFrame[] = []
  let caughtUp: CaughtUpFrame | undefined
  let failed = false
  const stop = watchFrames(
    client,
    (frame) => {
      if (caughtUp !== undefined || failed || !('stream' in frame) || frame.stream !== stream) {
        return
      }
      if (frame.t === 'presence' || frame.t === 'presenceDiff') return
      frames.push(frame)
      if (frame.t === 'caughtUp') caughtUp = frame
      if (frame.t === 'error') failed = true
    },
    { fromStart: options.fromStart ?? false },
  )
  try {
    await waitUntil(client, () => caughtUp !== undefined || failed, {
      what: `caughtUp on ${stream}`,
      timeoutMs: options.timeoutMs ?? 10_000,
    })
  } finally {
    stop()
  }
  if (caughtUp === undefined) throw new Error(`sub ${stream} failed: ${JSON.stringify(frames)}`)
  return {
    msgs: frames.filter((f): f is MsgFrame => f.t === 'msg'),
    resets: frames.filter((f): f is ResetFrame => f.t === 'reset'),
    caughtUp,
    frames,
  }
}

/**
 * Subscribes `client` to `stream` from `from` (no `from` when undefined) and resolves with
 * everything sent for it up to and including `caughtUp`. The subscription stays open.
 */
export function subscribeUntilCaughtUp(
  client: RawClient,
  stream: string,
  from: StartFrom | undefined,
  timeoutMs = 10_000,
): Promise<Catchup> {
  const collected = collectUntilCaughtUp(client, stream, { timeoutMs })
  client.send(from === undefined ? { t: 'sub', stream } : { t: 'sub', stream, from })
  return collected
}

/**
 * Reads a stream on a connection of its own, from `from` up to the `caughtUp`, and closes it.
 *
 * @example
 * const { msgs } = await readStream(server.wsUrl, 'alice', 'room:a', 'earliest')
 */
export async function readStream(
  wsUrl: string,
  token: string,
  stream: string,
  from: StartFrom | undefined,
  timeoutMs?: number,
): Promise<Catchup> {
  const { client } = await greet(wsUrl, { token })
  try {
    return await subscribeUntilCaughtUp(client, stream, from, timeoutMs)
  } finally {
    await client.close()
  }
}

/**
 * Waits until retention has moved the tail of `stream` to at least `atLeast`, reading it every
 * `pollMs` from a fresh subscription from 'earliest' (the retention job runs on its own timer, so
 * there is no frame to wait for). Resolves with the tail seen.
 */
export async function waitForTail(
  wsUrl: string,
  stream: string,
  atLeast: number,
  options: { readonly timeoutMs?: number; readonly pollMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  const { client } = await greet(wsUrl, { token: 'retention-probe' })
  try {
    for (;;) {
      const { msgs, caughtUp } = await subscribeUntilCaughtUp(client, stream, 'earliest')
      // Unsubscribed (and confirmed by the pong) before the next look, so that no live message of
      // this subscription can be taken for the start of the next one.
      client.send({ t: 'unsub', stream })
      client.send({ t: 'ping' })
      await client.next('pong')
      const tail = msgs[0]?.offset ?? caughtUp.head + 1
      if (tail >= atLeast) return tail
      if (Date.now() > deadline) {
        throw new Error(`The tail of ${stream} is still ${tail}, expected at least ${atLeast}`)
      }
      await delay(options.pollMs ?? 100)
    }
  } finally {
    await client.close()
  }
}
