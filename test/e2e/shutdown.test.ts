import type { GoawayFrame, PubackFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchFrames, waitUntil } from '../support/frame-watch.js'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { greet, range, readStream } from '../support/wire-session.js'

// Graceful shutdown (SIGTERM): every socket gets `goaway` with a jittered retry hint and a 1001
// close, pending commits are flushed, and every publish that was acknowledged is durable (G1).

// The CLI has no flag for the retry range: the default of config.ts applies.
const RETRY_AFTER_MS = { min: 1_000, max: 5_000 }

describe('graceful shutdown', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: ['--publish-rate', '1000000', '--publish-burst', '1000000'],
    })
  })
  afterAll(() => server?.dispose())

  it('answers /healthz while running', async () => {
    const res = await fetch(`${server.url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('sends goaway and close 1001 and keeps every acknowledged publish across SIGTERM', async () => {
    const stream = 'room:shutdown'
    const { client } = await greet(server.wsUrl, { token: 'sig' })
    const acks: PubackFrame[] = []
    watchFrames(client, (f) => {
      if (f.t === 'puback') acks.push(f)
      if (f.t === 'nack') throw new Error(`unexpected nack ${JSON.stringify(f)}`)
    })
    // Pipelines publishes, up to 200 awaiting their ack, until the server closes the socket.
    let seq = 0
    const flood = (): void => {
      if (client.socket.readyState !== client.socket.OPEN) return
      while (seq - acks.length < 200) {
        client.send({ t: 'pub', stream, epoch: 0, seq, data: { seq } })
        seq += 1
      }
      setImmediate(flood)
    }
    flood()
    await waitUntil(client, () => acks.length >= 500, { what: '500 pubacks' })

    const exited = server.stop()
    const closed = await client.closed
    expect(await exited).toBe(0)

    const goawayAt = client.frames.findIndex((f) => f.t === 'goaway')
    expect(goawayAt).toBeGreaterThanOrEqual(0)
    const goaway = client.frames[goawayAt] as GoawayFrame
    expect(goaway.retryAfterMs).toBeGreaterThanOrEqual(RETRY_AFTER_MS.min)
    expect(goaway.retryAfterMs).toBeLessThanOrEqual(RETRY_AFTER_MS.max)
    // goaway is the last frame, followed by the 1001 close carrying the same hint.
    expect(client.frames.slice(goawayAt + 1)).toEqual([])
    expect(closed).toEqual({ code: 1001, reason: `retry=${goaway.retryAfterMs}` })
    // The shutdown landed mid-stream: some publishes were still unacknowledged.
    expect(acks.length).toBeLessThan(seq)

    await server.restart()
    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)

    const { msgs, caughtUp } = await readStream(server.wsUrl, 'reader', stream, 'earliest')
    const stored = new Map(msgs.map((m) => [m.offset, m]))
    for (const ack of acks) {
      expect(stored.get(ack.offset), `seq ${ack.seq}`).toMatchObject({
        seq: ack.seq,
        data: { seq: ack.seq },
        epoch: ack.epoch,
      })
    }
    // What was committed is the gapless prefix of what was sent, in order.
    expect(caughtUp.head).toBeGreaterThanOrEqual(acks.length)
    expect(msgs.map((m) => m.seq)).toEqual(range(0, caughtUp.head))
    expect(msgs.map((m) => m.offset)).toEqual(range(1, caughtUp.head))
  })
})
