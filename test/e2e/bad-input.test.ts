import type { ErrorFrame, MsgFrame } from '@seqline/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { connectRaw } from '../support/ws-test-client.js'
import {
  type GreetedClient,
  greet,
  publishMany,
  range,
  subscribeUntilCaughtUp,
} from '../support/wire-session.js'

// Every bad frame gets an `error` (or `nack`) with a stable code; the connection, its other
// streams and the server keep working (protocol.md, "Every inbound frame is validated").

describe('bad input on the wire', () => {
  let server: ServerProcess

  beforeAll(async () => {
    server = await startServerProcess({
      args: [
        '--max-streams-per-connection',
        '3',
        '--publish-rate',
        '5',
        '--publish-burst',
        '5',
        '--max-clients-per-user',
        '2',
      ],
    })
  })
  afterAll(() => server?.dispose())

  describe('on one greeted connection', () => {
    let victim: GreetedClient

    beforeAll(async () => {
      victim = await greet(server.wsUrl, { token: 'vic' })
      await subscribeUntilCaughtUp(victim.client, 'room:keep', 'latest')
    })
    afterAll(() => victim?.client.close())

    /** Sends `frame` and resolves with the next error frame. */
    async function errorFor(frame: Record<string, unknown> | string): Promise<ErrorFrame> {
      victim.client.send(frame)
      return victim.client.next<ErrorFrame>('error')
    }

    it('answers malformed JSON and non-objects with BAD_FRAME', async () => {
      expect(await errorFor('{"t": "ping"')).toMatchObject({ code: 'BAD_FRAME' })
      expect(await errorFor('[1, 2, 3]')).toMatchObject({ code: 'BAD_FRAME' })
      expect(await errorFor('"hello"')).toMatchObject({ code: 'BAD_FRAME' })
    })

    it('answers a binary frame with BAD_FRAME', async () => {
      victim.client.socket.send(Buffer.from('{"t":"ping"}'), { binary: true })
      expect(await victim.client.next('error')).toMatchObject({ code: 'BAD_FRAME' })
    })

    it('answers an unknown frame type with UNKNOWN_FRAME', async () => {
      expect(await errorFor({ t: 'explode' })).toMatchObject({ code: 'UNKNOWN_FRAME' })
      expect(await errorFor({ stream: 'room:keep' })).toMatchObject({ code: 'UNKNOWN_FRAME' })
    })

    it('answers missing or mistyped fields with INVALID_FRAME', async () => {
      const frames = [
        { t: 'pub', stream: 'room:keep', seq: 0, data: 1 },
        { t: 'pub', stream: 'room:keep', epoch: 0, seq: -1, data: 1 },
        { t: 'ack', stream: 'room:keep' },
        { t: 'ack', stream: 'room:keep', offset: 1.5 },
        { t: 'sub', stream: 'room:keep', from: { epoch: 'e', offset: 'one' } },
        { t: 'sub', stream: 'room:keep', from: 'yesterday' },
      ]
      for (const frame of frames) {
        expect(await errorFor(frame), JSON.stringify(frame)).toMatchObject({
          code: 'INVALID_FRAME',
        })
      }
    })

    it('answers a bad stream name with INVALID_STREAM_NAME', async () => {
      for (const stream of ['-leading-dash', 'has space', '', 'x'.repeat(201), 'room#1']) {
        expect(await errorFor({ t: 'sub', stream }), stream).toMatchObject({
          code: 'INVALID_STREAM_NAME',
        })
      }
      expect(
        await errorFor({ t: 'pub', stream: 'bad name', epoch: 0, seq: 0, data: 1 }),
      ).toMatchObject({
        code: 'INVALID_STREAM_NAME',
      })
    })

    it('refuses a payload over 64 KiB with nack PAYLOAD_TOO_LARGE and writes nothing', async () => {
      const [nack] = await publishMany(victim.client, {
        stream: 'room:big',
        epoch: 0,
        seqs: [0],
        data: () => 'x'.repeat(65_536),
      })
      expect(nack).toMatchObject({
        t: 'nack',
        stream: 'room:big',
        seq: 0,
        code: 'PAYLOAD_TOO_LARGE',
      })
      // Exactly at the limit (the JSON text: two quotes + 65,534 characters) is accepted.
      const [ack] = await publishMany(victim.client, {
        stream: 'room:big',
        epoch: 0,
        seqs: [0],
        data: () => 'x'.repeat(65_534),
      })
      expect(ack).toMatchObject({ t: 'puback', seq: 0, offset: 1 })
    })

    it('answers a second hello with ALREADY_GREETED and keeps the session', async () => {
      expect(await errorFor({ t: 'hello', token: 'mallory' })).toMatchObject({
        code: 'ALREADY_GREETED',
      })
    })

    it('refuses a stream over the per-connection limit with TOO_MANY_STREAMS', async () => {
      // room:keep is the first; room:big was only published to.
      await subscribeUntilCaughtUp(victim.client, 'room:s2', 'latest')
      await subscribeUntilCaughtUp(victim.client, 'room:s3', 'latest')
      expect(await errorFor({ t: 'sub', stream: 'room:s4' })).toMatchObject({
        code: 'TOO_MANY_STREAMS',
        stream: 'room:s4',
      })
      // Re-subscribing a followed stream is not a new stream.
      const again = await subscribeUntilCaughtUp(victim.client, 'room:s3', 'earliest')
      expect(again.caughtUp.stream).toBe('room:s3')
    })

    it('refuses publishes over the rate with nack RATE_LIMITED', async () => {
      const replies = await publishMany(victim.client, {
        stream: 'room:rate',
        epoch: 0,
        seqs: range(0, 10),
        data: (seq) => seq,
      })
      // Nacks go out at admission, pubacks after the commit: look at them in seq order. A burst
      // of 5 (one token went to the publish at the size limit above), refilled at 5/s.
      const bySeq = [...replies].sort((a, b) => a.seq - b.seq)
      const accepted = bySeq.filter((r) => r.t === 'puback')
      expect(accepted.map((r) => r.seq)).toEqual(range(0, accepted.length))
      expect(accepted.length).toBeGreaterThanOrEqual(4)
      expect(accepted.length).toBeLessThanOrEqual(5)
      const refused = bySeq.slice(accepted.length)
      expect(refused.every((r) => r.t === 'nack')).toBe(true)
      // Should a token refill on a slow run, the publish after a refused one is a seq gap.
      const codes = refused.map((r) => (r.t === 'nack' ? r.code : r.t))
      expect(codes[0]).toBe('RATE_LIMITED')
      expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(4)
      expect(codes.every((c) => c === 'RATE_LIMITED' || c === 'PRODUCER_SEQ_GAP')).toBe(true)
    })

    it('still delivers the other subscribed stream on the same connection after all that', async () => {
      const errorsBefore = victim.client.frames.filter((f) => f.t === 'error').length
      const publisher = await greet(server.wsUrl, { token: 'pat' })
      await publishMany(publisher.client, {
        stream: 'room:keep',
        epoch: 0,
        seqs: [0],
        data: () => ({ still: 'here' }),
      })
      const msg = await victim.client.next<MsgFrame>(
        (f) => f.t === 'msg' && f.stream === 'room:keep',
      )
      expect(msg).toMatchObject({ offset: 1, data: { still: 'here' }, from: 'pat' })
      victim.client.send({ t: 'ping' })
      await victim.client.next('pong')
      expect(victim.client.frames.filter((f) => f.t === 'error')).toHaveLength(errorsBefore)
      await publisher.client.close()
    })
  })

  it('answers frames before hello with HELLO_REQUIRED and still accepts the hello', async () => {
    const c = await connectRaw(server.wsUrl)
    c.send({ t: 'sub', stream: 'room:keep' })
    expect(await c.next()).toMatchObject({ t: 'error', code: 'HELLO_REQUIRED' })
    c.send({ t: 'pub', stream: 'room:keep', epoch: 0, seq: 0, data: 1 })
    expect(await c.next()).toMatchObject({ t: 'error', code: 'HELLO_REQUIRED' })
    c.send({ t: 'hello', token: 'late' })
    expect(await c.next()).toMatchObject({ t: 'welcome', userId: 'late' })
    await c.close()
  })

  it('refuses a second connection of a client with TOO_MANY_CONNECTIONS, or gives it a fresh client', async () => {
    const first = await greet(server.wsUrl, { token: 'tom' })
    const { clientId, secret } = first.welcome
    for (const takeover of [undefined, 'k_not-a-connection-of-mine']) {
      const second = await connectRaw(server.wsUrl)
      second.send({ t: 'hello', token: 'tom', clientId, secret, takeover })
      expect(await second.next()).toMatchObject({ t: 'error', code: 'TOO_MANY_CONNECTIONS' })
      expect(await second.closed).toMatchObject({ code: 1008 })
    }

    const tab = await connectRaw(server.wsUrl)
    tab.send({ t: 'hello', token: 'tom', clientId, secret, onInUse: 'fresh' })
    const welcome = await tab.next()
    expect(welcome).toMatchObject({ t: 'welcome', userId: 'tom', replaced: 'in-use' })
    expect(welcome).toHaveProperty('secret')
    expect(welcome).not.toMatchObject({ clientId })

    first.client.send({ t: 'ping' })
    await first.client.next('pong')
    await Promise.all([first.client.close(), tab.close()])
  })

  it('refuses a client over the per-user limit with TOO_MANY_CLIENTS', async () => {
    const one = await greet(server.wsUrl, { token: 'uma' })
    const two = await greet(server.wsUrl, { token: 'uma' })
    const three = await connectRaw(server.wsUrl)
    three.send({ t: 'hello', token: 'uma' })
    expect(await three.next()).toMatchObject({ t: 'error', code: 'TOO_MANY_CLIENTS' })
    expect(await three.closed).toMatchObject({ code: 1008 })
    // The registered ones keep working.
    await two.client.close()
    const back = await greet(server.wsUrl, {
      token: 'uma',
      clientId: two.welcome.clientId,
      secret: two.welcome.secret,
    })
    expect(back.welcome.clientId).toBe(two.welcome.clientId)
    await Promise.all([one.client.close(), back.client.close()])
  })

  it('closes a connection with 1009 for a frame above the hard cap and keeps serving others', async () => {
    const c = await greet(server.wsUrl, { token: 'huge' })
    c.client.send({ t: 'pub', stream: 'room:huge', epoch: 0, seq: 0, data: 'x'.repeat(1_100_000) })
    expect(await c.client.closed).toMatchObject({ code: 1009 })

    const fresh = await greet(server.wsUrl, { token: 'next' })
    const { caughtUp } = await subscribeUntilCaughtUp(fresh.client, 'room:huge', 'earliest')
    expect(caughtUp.head).toBe(0)
    await fresh.client.close()
  })
})
