import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '@seqline/protocol'
import type {
  AppendRequest,
  AppendResult,
  ClientRecord,
  CreateStreamResult,
  NewClientRecord,
  ProducerRef,
  Store,
  StoredMessage,
  StreamRecord,
  UnreadEpisode,
  UnreadQuery,
} from '../../packages/server/src/store/store.js'

/** What a conformance run needs: a fresh, not yet initialised store and a way to dispose of it. */
export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>

const T0 = 1_700_000_000_000
const JSON_TYPE = 'application/json'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function bytes(text: string): Uint8Array {
  return encoder.encode(text)
}

function texts(messages: readonly StoredMessage[]): string[] {
  return messages.map((m) => decoder.decode(m.data))
}

function offsets(messages: readonly StoredMessage[]): number[] {
  return messages.map((m) => m.offset)
}

function pub(
  stream: string,
  payloads: readonly string[],
  extra: Partial<AppendRequest> = {},
): AppendRequest {
  return { stream, payloads: payloads.map(bytes), from: 'alice', now: T0, ...extra }
}

function producer(id: string, epoch: number, seq: number): ProducerRef {
  return { id, epoch, seq }
}

function client(id: string, userId: string, lastSeenAt = T0): NewClientRecord {
  return { id, userId, secretHash: `hash-${id}`, createdAt: T0, lastSeenAt }
}

/** The record the store holds for `client(…)`. */
function stored(id: string, userId: string, lastSeenAt = T0): ClientRecord {
  return { ...client(id, userId, lastSeenAt), closingAt: null }
}

/** The stream of a creation that was not `rejected` (only forks can be). */
function streamOf(result: CreateStreamResult): StreamRecord {
  if (result.kind === 'rejected') throw new Error(`unexpected rejection: ${result.message}`)
  return result.stream
}

function appended(result: AppendResult | undefined): Extract<AppendResult, { kind: 'appended' }> {
  if (result?.kind !== 'appended')
    throw new Error(`expected appended, got ${JSON.stringify(result)}`)
  return result
}

/**
 * The one conformance suite every `Store` passes (STYLE.md: Hono's `runTest({ newRouter })`). The
 * factory returns a fresh store; the suite calls `init()` and `close()` itself.
 */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      const made = await factory()
      store = made.store
      cleanup = made.cleanup
      await store.init()
    })

    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    async function create(stream: string, extra: { initial?: string[]; closed?: boolean } = {}) {
      const result = await store.createStream({
        name: stream,
        contentType: JSON_TYPE,
        now: T0,
        closed: extra.closed ?? false,
        initial: (extra.initial ?? []).map(bytes),
        from: 'alice',
      })
      if (result.kind !== 'created') throw new Error(`expected created, got ${result.kind}`)
      return result.stream
    }

    async function appendOne(request: AppendRequest): Promise<AppendResult> {
      const [result] = await store.append([request])
      if (result === undefined) throw new Error('append returned no result')
      return result
    }

    async function head(stream: string): Promise<number | undefined> {
      return (await store.getStream(stream))?.head
    }

    describe('createStream', () => {
      it('creates an empty stream with head 0, tail 1 and an epoch', async () => {
        const result = await store.createStream({ name: 'room:a', contentType: JSON_TYPE, now: T0 })
        expect(result.kind).toBe('created')
        expect(streamOf(result)).toMatchObject({
          name: 'room:a',
          contentType: JSON_TYPE,
          head: 0,
          tail: 1,
          createdAt: T0,
          closed: false,
          closedBy: null,
          ttlSeconds: null,
          expiresAt: null,
          lastAccessAt: T0,
          streamSeq: null,
          retention: null,
        })
        expect(streamOf(result).epoch).toMatch(/^[0-9a-z]{10}$/)
        expect(await store.getStream('room:a')).toEqual(streamOf(result))
      })

      it('keeps TTL, expiry and retention', async () => {
        const result = await store.createStream({
          name: 'room:a',
          contentType: 'text/plain',
          ttlSeconds: 60,
          expiresAt: T0 + 5_000,
          retention: { maxAgeMs: 1_000, maxCount: 10 },
          now: T0,
        })
        const stored = await store.getStream('room:a')
        expect(stored).toEqual(streamOf(result))
        expect(stored).toMatchObject({
          ttlSeconds: 60,
          expiresAt: T0 + 5_000,
          retention: { maxAgeMs: 1_000, maxCount: 10 },
        })
        await store.createStream({
          name: 'room:b',
          contentType: 'text/plain',
          retention: { maxCount: 3 },
          now: T0,
        })
        expect((await store.getStream('room:b'))?.retention).toEqual({ maxCount: 3 })
      })

      it('keeps an until-acked policy and drops a policy without limits', async () => {
        await store.createStream({
          name: 'room:a',
          contentType: JSON_TYPE,
          retention: { untilAcked: true, maxAgeMs: 60_000 },
          now: T0,
        })
        await store.createStream({
          name: 'room:b',
          contentType: JSON_TYPE,
          retention: { untilAcked: false },
          now: T0,
        })
        expect((await store.getStream('room:a'))?.retention).toEqual({
          untilAcked: true,
          maxAgeMs: 60_000,
        })
        expect((await store.getStream('room:b'))?.retention).toBeNull()
        // Appends leave the policy as it is.
        await appendOne(pub('room:a', ['1']))
        expect((await store.getStream('room:a'))?.retention).toEqual({
          untilAcked: true,
          maxAgeMs: 60_000,
        })
      })

      it('returns exists for the same configuration without touching the stream', async () => {
        const first = await store.createStream({
          name: 'room:a',
          contentType: JSON_TYPE,
          ttlSeconds: 30,
          now: T0,
        })
        const again = await store.createStream({
          name: 'room:a',
          contentType: JSON_TYPE,
          ttlSeconds: 30,
          now: T0 + 1_000,
          initial: [bytes('1')],
        })
        expect(again).toEqual({ kind: 'exists', stream: streamOf(first) })
        expect(await head('room:a')).toBe(0)
      })

      it('treats content types that differ in case or parameters as the same', async () => {
        await create('room:a')
        const again = await store.createStream({
          name: 'room:a',
          contentType: 'Application/JSON; charset=utf-8',
          now: T0,
        })
        expect(again.kind).toBe('exists')
      })

      it('returns conflict when content type, TTL, expiry or closure differ', async () => {
        await store.createStream({
          name: 'room:a',
          contentType: JSON_TYPE,
          ttlSeconds: 30,
          now: T0,
        })
        const base = { name: 'room:a', contentType: JSON_TYPE, ttlSeconds: 30, now: T0 }
        expect((await store.createStream({ ...base, contentType: 'text/plain' })).kind).toBe(
          'conflict',
        )
        expect((await store.createStream({ ...base, ttlSeconds: 31 })).kind).toBe('conflict')
        expect((await store.createStream({ ...base, ttlSeconds: null })).kind).toBe('conflict')
        expect((await store.createStream({ ...base, expiresAt: T0 })).kind).toBe('conflict')
        const closed = await store.createStream({ ...base, closed: true })
        expect(closed.kind).toBe('conflict')
        expect(streamOf(closed).closed).toBe(false)
      })

      it('appends the initial messages in the same step as the creation', async () => {
        const stream = await create('room:a', { initial: ['"a"', '"b"'] })
        expect(stream).toMatchObject({ head: 2, tail: 1 })
        const messages = await store.read('room:a', 0, 10)
        expect(offsets(messages)).toEqual([1, 2])
        expect(texts(messages)).toEqual(['"a"', '"b"'])
        expect(messages[0]).toMatchObject({ producer: null, seq: null, from: 'alice', ts: T0 })
      })

      it('creates a closed stream whose initial content is final', async () => {
        const stream = await create('room:a', { initial: ['"done"'], closed: true })
        expect(stream).toMatchObject({ closed: true, closedBy: null, head: 1 })
        expect(
          (
            await store.createStream({
              name: 'room:a',
              contentType: JSON_TYPE,
              now: T0,
              closed: true,
            })
          ).kind,
        ).toBe('exists')
        expect(await appendOne(pub('room:a', ['"more"']))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_CLOSED,
          closed: true,
        })
      })

      it('draws a new epoch when a deleted stream is created again', async () => {
        const first = await create('room:a', { initial: ['1'] })
        await store.deleteStream('room:a')
        const second = await create('room:a')
        expect(second.epoch).not.toBe(first.epoch)
        expect(second).toMatchObject({ head: 0, tail: 1 })
      })
    })

    describe('getStream, listStreams, touchStream', () => {
      it('returns undefined for an unknown stream', async () => {
        expect(await store.getStream('nope')).toBeUndefined()
      })

      it('lists streams in name order, a page at a time', async () => {
        for (const n of ['c', 'a', 'e', 'b', 'd']) await create(`room:${n}`)
        const page1 = await store.listStreams(undefined, 2)
        expect(page1.map((s) => s.name)).toEqual(['room:a', 'room:b'])
        const page2 = await store.listStreams('room:b', 2)
        expect(page2.map((s) => s.name)).toEqual(['room:c', 'room:d'])
        const page3 = await store.listStreams('room:d', 2)
        expect(page3.map((s) => s.name)).toEqual(['room:e'])
        expect(await store.listStreams('room:e', 2)).toEqual([])
        expect(page1[0]).toEqual(await store.getStream('room:a'))
      })

      it('moves lastAccessAt forward and never back', async () => {
        await create('room:a')
        await store.touchStream('room:a', T0 + 500)
        expect((await store.getStream('room:a'))?.lastAccessAt).toBe(T0 + 500)
        await store.touchStream('room:a', T0 + 100)
        expect((await store.getStream('room:a'))?.lastAccessAt).toBe(T0 + 500)
        await store.touchStream('nope', T0)
        expect(await store.getStream('nope')).toBeUndefined()
      })
    })

    describe('getHeads', () => {
      it('returns the epoch and head of every named stream that exists', async () => {
        const a = await create('room:a', { initial: ['1', '2'] })
        const b = await create('room:b')
        await appendOne(pub('room:b', ['1'], { now: T0 + 1 }))
        const heads = await store.getHeads(['room:b', 'room:a', 'room:nope', 'room:a'])
        expect([...heads.entries()].sort()).toEqual([
          ['room:a', { epoch: a.epoch, head: 2 }],
          ['room:b', { epoch: b.epoch, head: 1 }],
        ])
        expect(await store.getHeads([])).toEqual(new Map())
      })

      it('leaves soft-deleted streams out', async () => {
        await create('src', { initial: ['1'] })
        await store.createStream({
          name: 'fork',
          contentType: JSON_TYPE,
          now: T0,
          fork: { source: 'src', offset: 1, subOffset: 0 },
        })
        await store.deleteStream('src')
        expect([...(await store.getHeads(['src', 'fork'])).keys()]).toEqual(['fork'])
      })

      it('answers for many streams at once', async () => {
        const names = Array.from({ length: 1_500 }, (_, i) => `room:${i}`)
        await store.append(
          names
            .filter((_, i) => i % 3 === 0)
            .map((name) => pub(name, ['1'], { createIfMissing: { contentType: JSON_TYPE } })),
        )
        const heads = await store.getHeads(names)
        expect(heads.size).toBe(500)
        expect(heads.get('room:0')?.head).toBe(1)
        expect(heads.has('room:1')).toBe(false)
      })
    })

    describe('append', () => {
      it('assigns gapless offsets across requests and batches', async () => {
        await create('room:a')
        const [r1, r2] = await store.append([pub('room:a', ['1', '2']), pub('room:a', ['3'])])
        const r3 = await appendOne(pub('room:a', ['4', '5', '6']))
        expect(offsets(appended(r1).messages)).toEqual([1, 2])
        expect(appended(r1).head).toBe(2)
        expect(offsets(appended(r2).messages)).toEqual([3])
        expect(offsets(appended(r3).messages)).toEqual([4, 5, 6])
        expect(appended(r3).head).toBe(6)
        const all = await store.read('room:a', 0, 100)
        expect(offsets(all)).toEqual([1, 2, 3, 4, 5, 6])
        expect(texts(all)).toEqual(['1', '2', '3', '4', '5', '6'])
        expect(await store.getStream('room:a')).toMatchObject({ head: 6, tail: 1 })
      })

      it('returns the stored messages with the commit time, sender and producer', async () => {
        const stream = await create('room:a')
        const result = appended(
          await appendOne(
            pub('room:a', ['{"x":1}'], {
              now: T0 + 42,
              from: 'bob',
              producer: producer('p', 0, 0),
            }),
          ),
        )
        expect(result.epoch).toBe(stream.epoch)
        expect(result.closed).toBe(false)
        expect(result.messages).toHaveLength(1)
        expect(result.messages[0]).toMatchObject({
          offset: 1,
          producer: 'p',
          seq: 0,
          from: 'bob',
          ts: T0 + 42,
        })
        const [read] = await store.read('room:a', 0, 10)
        expect(read).toMatchObject({ offset: 1, producer: 'p', seq: 0, from: 'bob', ts: T0 + 42 })
        expect(texts(read === undefined ? [] : [read])).toEqual(['{"x":1}'])
        expect((await store.getStream('room:a'))?.lastAccessAt).toBe(T0 + 42)
      })

      it('keeps the bytes exactly as appended', async () => {
        await create('room:a')
        const raw = new Uint8Array([0, 1, 127, 128, 254, 255])
        await store.append([{ stream: 'room:a', payloads: [raw], from: null, now: T0 }])
        const [message] = await store.read('room:a', 0, 1)
        expect(Array.from(message?.data ?? [])).toEqual([0, 1, 127, 128, 254, 255])
        expect(message?.from).toBeNull()
      })

      it('commits many requests to many streams in one call, each with its own result', async () => {
        await create('room:a')
        await create('room:b')
        const batch: AppendRequest[] = []
        for (let i = 0; i < 300; i++) {
          batch.push(pub(i % 2 === 0 ? 'room:a' : 'room:b', [String(i)], { now: T0 + i }))
        }
        const results = await store.append(batch)
        expect(results).toHaveLength(300)
        results.forEach((result, i) => {
          expect(appended(result).messages[0]?.offset).toBe(Math.floor(i / 2) + 1)
        })
        expect(await head('room:a')).toBe(150)
        expect(await head('room:b')).toBe(150)
        expect(texts(await store.read('room:b', 148, 10))).toEqual(['297', '299'])
      })

      it('isolates a rejected request: the others commit, the offsets stay gapless', async () => {
        await create('room:a')
        const results = await store.append([
          pub('room:a', ['1']),
          pub('room:nope', ['x']),
          pub('room:a', ['x'], { producer: producer('p', 0, 5) }),
          pub('room:a', ['2']),
        ])
        expect(results.map((r) => r.kind)).toEqual(['appended', 'rejected', 'rejected', 'appended'])
        expect(offsets(appended(results[3]).messages)).toEqual([2])
        expect(texts(await store.read('room:a', 0, 10))).toEqual(['1', '2'])
        expect(await store.getProducer('room:a', 'p')).toBeUndefined()
        expect(await store.getStream('room:nope')).toBeUndefined()
      })

      it('rejects an append to an unknown stream with STREAM_NOT_FOUND', async () => {
        expect(await appendOne(pub('room:nope', ['1']))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_NOT_FOUND,
        })
      })

      it('creates a missing stream with createIfMissing', async () => {
        const result = appended(
          await appendOne(pub('room:new', ['1'], { createIfMissing: { contentType: JSON_TYPE } })),
        )
        const stream = await store.getStream('room:new')
        expect(stream).toMatchObject({
          contentType: JSON_TYPE,
          head: 1,
          tail: 1,
          createdAt: T0,
          closed: false,
        })
        expect(result.epoch).toBe(stream?.epoch)
        const again = appended(
          await appendOne(pub('room:new', ['2'], { createIfMissing: { contentType: JSON_TYPE } })),
        )
        expect(again.epoch).toBe(stream?.epoch)
        expect(again.head).toBe(2)
      })

      it('creates a missing stream once when a batch appends to it twice', async () => {
        const make = { createIfMissing: { contentType: JSON_TYPE } }
        const [a, b] = await store.append([
          pub('room:new', ['1'], make),
          pub('room:new', ['2'], make),
        ])
        expect(appended(a).epoch).toBe(appended(b).epoch)
        expect(offsets(appended(b).messages)).toEqual([2])
      })

      it('does not create the stream when the request that would create it is rejected', async () => {
        const result = await appendOne(
          pub('room:new', ['1'], {
            createIfMissing: { contentType: JSON_TYPE },
            producer: producer('p', 0, 3),
          }),
        )
        expect(result).toMatchObject({ kind: 'rejected', code: ErrorCode.PRODUCER_SEQ_GAP })
        expect(await store.getStream('room:new')).toBeUndefined()
      })

      it('rejects an empty append without close with BAD_REQUEST', async () => {
        await create('room:a')
        expect(await appendOne(pub('room:a', []))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.BAD_REQUEST,
        })
        expect(
          await appendOne(pub('room:new', [], { createIfMissing: { contentType: JSON_TYPE } })),
        ).toMatchObject({ kind: 'rejected', code: ErrorCode.BAD_REQUEST })
        expect(await store.getStream('room:new')).toBeUndefined()
        expect(await head('room:a')).toBe(0)
      })

      it('rejects a content type mismatch with CONFLICT and accepts an equivalent one', async () => {
        await create('room:a')
        expect(await appendOne(pub('room:a', ['x'], { contentType: 'text/plain' }))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        expect(
          (
            await appendOne(
              pub('room:a', ['1'], { contentType: 'application/json; charset=utf-8' }),
            )
          ).kind,
        ).toBe('appended')
        expect(await head('room:a')).toBe(1)
      })

      it('accepts a close-only request whatever its content type', async () => {
        await create('room:a')
        const result = appended(
          await appendOne(pub('room:a', [], { close: true, contentType: 'text/plain' })),
        )
        expect(result.closed).toBe(true)
      })

      it('accepts a strictly greater Stream-Seq and rejects a regression with CONFLICT', async () => {
        await create('room:a')
        expect((await appendOne(pub('room:a', ['1'], { streamSeq: '0001' }))).kind).toBe('appended')
        expect((await store.getStream('room:a'))?.streamSeq).toBe('0001')
        expect(await appendOne(pub('room:a', ['x'], { streamSeq: '0001' }))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        expect(await appendOne(pub('room:a', ['x'], { streamSeq: '0000' }))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        // Without Stream-Seq an append does not take part in the ordering.
        expect((await appendOne(pub('room:a', ['2']))).kind).toBe('appended')
        expect((await appendOne(pub('room:a', ['3'], { streamSeq: '0002' }))).kind).toBe('appended')
        expect(texts(await store.read('room:a', 0, 10))).toEqual(['1', '2', '3'])
        expect((await store.getStream('room:a'))?.streamSeq).toBe('0002')
      })

      it('compares Stream-Seq as a string, not as a number', async () => {
        await create('room:a')
        expect((await appendOne(pub('room:a', ['1'], { streamSeq: '9' }))).kind).toBe('appended')
        expect(await appendOne(pub('room:a', ['x'], { streamSeq: '10' }))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        expect((await appendOne(pub('room:a', ['2'], { streamSeq: '9a' }))).kind).toBe('appended')
      })

      it('applies Stream-Seq checks in batch order', async () => {
        await create('room:a')
        const results = await store.append([
          pub('room:a', ['1'], { streamSeq: 'b' }),
          pub('room:a', ['x'], { streamSeq: 'a' }),
          pub('room:a', ['2'], { streamSeq: 'c' }),
        ])
        expect(results.map((r) => r.kind)).toEqual(['appended', 'rejected', 'appended'])
        expect((await store.getStream('room:a'))?.streamSeq).toBe('c')
      })
    })

    describe('append with a producer', () => {
      it('accepts a new producer at seq 0 and records its state', async () => {
        await create('room:a')
        const result = appended(
          await appendOne(
            pub('room:a', ['1', '2'], { producer: producer('p', 3, 0), now: T0 + 7 }),
          ),
        )
        const state = { epoch: 3, lastSeq: 0, lastOffset: 2, updatedAt: T0 + 7 }
        expect(result.producer).toEqual(state)
        expect(await store.getProducer('room:a', 'p')).toEqual(state)
        expect(await store.getProducer('room:a', 'q')).toBeUndefined()
      })

      it('rejects a new producer that does not start at seq 0 with a gap expecting 0', async () => {
        await create('room:a')
        expect(await appendOne(pub('room:a', ['1'], { producer: producer('p', 0, 4) }))).toEqual({
          kind: 'rejected',
          code: ErrorCode.PRODUCER_SEQ_GAP,
          message: expect.any(String),
          expectedSeq: 0,
          receivedSeq: 4,
        })
        expect(await head('room:a')).toBe(0)
      })

      it('accepts the next seq and reports a gap with expected and received seq', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['0'], { producer: producer('p', 0, 0) }))
        expect(
          (await appendOne(pub('room:a', ['1'], { producer: producer('p', 0, 1) }))).kind,
        ).toBe('appended')
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('p', 0, 3) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.PRODUCER_SEQ_GAP,
          expectedSeq: 2,
          receivedSeq: 3,
        })
        expect(await store.getProducer('room:a', 'p')).toMatchObject({ lastSeq: 1, lastOffset: 2 })
      })

      it('reports a retry of the last publish as a duplicate with its last offset', async () => {
        const stream = await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['b', 'c'], { producer: producer('p', 0, 1) }))
        const retry = await appendOne(pub('room:a', ['b', 'c'], { producer: producer('p', 0, 1) }))
        expect(retry).toEqual({
          kind: 'duplicate',
          epoch: stream.epoch,
          offset: 3,
          lastSeq: 1,
          closed: false,
        })
        expect(await head('room:a')).toBe(3)
      })

      it('reports a retry of an older publish with that publish’s real offset', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['x'])) // another writer in between
        await appendOne(pub('room:a', ['b', 'c'], { producer: producer('p', 0, 1) }))
        await appendOne(pub('room:a', ['d'], { producer: producer('p', 0, 2) }))
        expect(
          await appendOne(pub('room:a', ['b', 'c'], { producer: producer('p', 0, 1) })),
        ).toMatchObject({ kind: 'duplicate', offset: 4, lastSeq: 2 })
        expect(
          await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) })),
        ).toMatchObject({
          kind: 'duplicate',
          offset: 1,
          lastSeq: 2,
        })
        expect(await head('room:a')).toBe(5)
      })

      it('finds an older duplicate by producer epoch, not only by seq', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['e0s0'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['e0s1'], { producer: producer('p', 0, 1) }))
        await appendOne(pub('room:a', ['e1s0'], { producer: producer('p', 1, 0) }))
        await appendOne(pub('room:a', ['e1s1'], { producer: producer('p', 1, 1) }))
        expect(
          await appendOne(pub('room:a', ['e1s0'], { producer: producer('p', 1, 0) })),
        ).toMatchObject({
          kind: 'duplicate',
          offset: 3,
        })
      })

      it('reports offset 0 for an older duplicate whose messages were trimmed', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['b'], { producer: producer('p', 0, 1) }))
        await store.trim('room:a', { policy: { maxCount: 1 }, now: T0 })
        expect(
          await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) })),
        ).toMatchObject({
          kind: 'duplicate',
          offset: 0,
          lastSeq: 1,
        })
        // The last publish is known from the producer state even when trimmed.
        await store.trim('room:a', { policy: { maxCount: 0 }, now: T0 })
        expect(
          await appendOne(pub('room:a', ['b'], { producer: producer('p', 0, 1) })),
        ).toMatchObject({
          kind: 'duplicate',
          offset: 2,
        })
      })

      it('fences a stale epoch with PRODUCER_FENCED and the current epoch', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 2, 0) }))
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('p', 1, 1) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.PRODUCER_FENCED,
          producerEpoch: 2,
        })
        // A retry from the old epoch is fenced too, not reported as a duplicate.
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('p', 1, 0) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.PRODUCER_FENCED,
        })
        expect(await head('room:a')).toBe(1)
      })

      it('accepts an epoch bump at seq 0 and resets lastSeq', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['b'], { producer: producer('p', 0, 1) }))
        const bumped = appended(
          await appendOne(pub('room:a', ['c'], { producer: producer('p', 1, 0), now: T0 + 1 })),
        )
        expect(bumped.producer).toEqual({ epoch: 1, lastSeq: 0, lastOffset: 3, updatedAt: T0 + 1 })
        expect(await store.getProducer('room:a', 'p')).toEqual(bumped.producer)
        expect(
          (await appendOne(pub('room:a', ['d'], { producer: producer('p', 1, 1) }))).kind,
        ).toBe('appended')
      })

      it('rejects an epoch bump that does not start at seq 0 with INVALID_PRODUCER', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('p', 1, 1) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.INVALID_PRODUCER,
        })
        expect(await store.getProducer('room:a', 'p')).toMatchObject({ epoch: 0, lastSeq: 0 })
      })

      it('sequences and deduplicates publishes of one producer within one batch', async () => {
        await create('room:a')
        const results = await store.append([
          pub('room:a', ['0'], { producer: producer('p', 0, 0) }),
          pub('room:a', ['1'], { producer: producer('p', 0, 1) }),
          pub('room:a', ['1'], { producer: producer('p', 0, 1) }),
          pub('room:a', ['x'], { producer: producer('p', 0, 5) }),
          pub('room:a', ['2'], { producer: producer('p', 0, 2) }),
          pub('room:a', ['0'], { producer: producer('p', 0, 0) }),
        ])
        expect(results.map((r) => r.kind)).toEqual([
          'appended',
          'appended',
          'duplicate',
          'rejected',
          'appended',
          'duplicate',
        ])
        expect(results[2]).toMatchObject({ offset: 2, lastSeq: 1 })
        expect(results[5]).toMatchObject({ offset: 1, lastSeq: 2 })
        expect(texts(await store.read('room:a', 0, 10))).toEqual(['0', '1', '2'])
      })

      it('keeps producer state per stream', async () => {
        await create('room:a')
        await create('room:b')
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 0) }))
        await appendOne(pub('room:a', ['a'], { producer: producer('p', 0, 1) }))
        expect(
          (await appendOne(pub('room:b', ['b'], { producer: producer('p', 0, 0) }))).kind,
        ).toBe('appended')
        expect(await store.getProducer('room:b', 'p')).toMatchObject({ lastSeq: 0, lastOffset: 1 })
      })

      it('expires producer states not used since a time, on every stream', async () => {
        await create('room:a')
        await create('room:b')
        await appendOne(pub('room:a', ['1'], { producer: producer('old', 0, 0), now: T0 }))
        await appendOne(pub('room:b', ['1'], { producer: producer('old', 0, 0), now: T0 + 10 }))
        await appendOne(pub('room:a', ['2'], { producer: producer('edge', 0, 0), now: T0 + 20 }))
        await appendOne(pub('room:a', ['3'], { producer: producer('new', 0, 0), now: T0 + 30 }))
        // A publish keeps its producer alive: `old` on room:a is used again at T0 + 40.
        await appendOne(pub('room:a', ['4'], { producer: producer('old', 0, 1), now: T0 + 40 }))
        expect(await store.gcProducers(T0 + 20)).toBe(1)
        expect(await store.getProducer('room:b', 'old')).toBeUndefined()
        expect(await store.getProducer('room:a', 'old')).toMatchObject({ lastSeq: 1 })
        expect(await store.getProducer('room:a', 'edge')).toBeDefined()
        expect(await store.gcProducers(T0 + 20)).toBe(0)
        expect(await store.gcProducers(T0 + 41)).toBe(3)
        // The messages stay; an expired producer starts over.
        expect(await head('room:a')).toBe(4)
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('new', 0, 1) })),
        ).toMatchObject({ kind: 'rejected', code: ErrorCode.PRODUCER_SEQ_GAP, expectedSeq: 0 })
        const again = appended(
          await appendOne(pub('room:a', ['5'], { producer: producer('new', 0, 0), now: T0 + 50 })),
        )
        expect(again.producer).toEqual({ epoch: 0, lastSeq: 0, lastOffset: 5, updatedAt: T0 + 50 })
      })

      it('reports a duplicate before a Stream-Seq regression so that a retry stays idempotent', async () => {
        await create('room:a')
        const request = pub('room:a', ['a'], { producer: producer('p', 0, 0), streamSeq: '1' })
        await appendOne(request)
        expect(await appendOne(request)).toMatchObject({ kind: 'duplicate', offset: 1 })
      })
    })

    describe('closure', () => {
      it('closes a stream atomically with a final append', async () => {
        await create('room:a')
        const result = appended(
          await appendOne(pub('room:a', ['last'], { close: true, producer: producer('p', 0, 0) })),
        )
        expect(result).toMatchObject({ head: 1, closed: true })
        expect(await store.getStream('room:a')).toMatchObject({
          closed: true,
          closedBy: { id: 'p', epoch: 0, seq: 0 },
          head: 1,
        })
      })

      it('rejects appends to a closed stream with STREAM_CLOSED', async () => {
        await create('room:a')
        await appendOne(pub('room:a', ['last'], { close: true }))
        expect(await appendOne(pub('room:a', ['x']))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_CLOSED,
          closed: true,
        })
        expect(
          await appendOne(pub('room:a', ['x'], { producer: producer('q', 0, 0) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_CLOSED,
          closed: true,
        })
        expect(await head('room:a')).toBe(1)
      })

      it('checks closure before the content type', async () => {
        await create('room:a')
        await appendOne(pub('room:a', [], { close: true }))
        expect(await appendOne(pub('room:a', ['x'], { contentType: 'text/plain' }))).toMatchObject({
          code: ErrorCode.STREAM_CLOSED,
        })
      })

      it('reports a retry of the closing publish as a duplicate of the closed stream', async () => {
        const stream = await create('room:a', { initial: ['0'] })
        const close = pub('room:a', ['a', 'b'], { close: true, producer: producer('p', 0, 0) })
        await appendOne(close)
        expect(await appendOne(close)).toEqual({
          kind: 'duplicate',
          epoch: stream.epoch,
          offset: 3,
          lastSeq: 0,
          closed: true,
        })
        // Another seq of the same producer is not the closing publish.
        expect(
          await appendOne(pub('room:a', ['c'], { producer: producer('p', 0, 1) })),
        ).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_CLOSED,
        })
        expect(await head('room:a')).toBe(3)
      })

      it('closes without data and reports its retry at the final offset', async () => {
        await create('room:a', { initial: ['0', '1'] })
        await appendOne(pub('room:a', ['2'], { producer: producer('p', 0, 0) }))
        const result = appended(
          await appendOne(pub('room:a', [], { close: true, producer: producer('p', 0, 1) })),
        )
        expect(result).toMatchObject({ messages: [], head: 3, closed: true })
        expect(await store.getProducer('room:a', 'p')).toMatchObject({ lastSeq: 1, lastOffset: 3 })
        expect(
          await appendOne(pub('room:a', [], { close: true, producer: producer('p', 0, 1) })),
        ).toMatchObject({ kind: 'duplicate', offset: 3, closed: true })
      })

      it('treats a close-only request without producer on a closed stream as idempotent', async () => {
        await create('room:a', { initial: ['0'] })
        await appendOne(pub('room:a', [], { close: true }))
        const again = appended(await appendOne(pub('room:a', [], { close: true })))
        expect(again).toMatchObject({ messages: [], head: 1, closed: true })
        expect(await appendOne(pub('room:a', ['x'], { close: true }))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_CLOSED,
        })
      })

      it('creates a missing stream already closed with createIfMissing and close', async () => {
        const result = appended(
          await appendOne(
            pub('room:new', ['1'], { close: true, createIfMissing: { contentType: JSON_TYPE } }),
          ),
        )
        expect(result.closed).toBe(true)
        expect(await store.getStream('room:new')).toMatchObject({ head: 1, closed: true })
      })
    })

    describe('read', () => {
      it('returns messages after an offset, in order, a page at a time', async () => {
        await create('room:a', { initial: ['1', '2', '3', '4', '5'] })
        expect(offsets(await store.read('room:a', 0, 2))).toEqual([1, 2])
        expect(offsets(await store.read('room:a', 2, 2))).toEqual([3, 4])
        expect(offsets(await store.read('room:a', 4, 2))).toEqual([5])
        expect(await store.read('room:a', 5, 2)).toEqual([])
        expect(await store.read('room:a', 99, 2)).toEqual([])
        expect(await store.read('room:a', 0, 0)).toEqual([])
        expect(offsets(await store.read('room:a', -1, 10))).toEqual([1, 2, 3, 4, 5])
      })

      it('returns an empty list for an unknown stream', async () => {
        expect(await store.read('nope', 0, 10)).toEqual([])
      })

      it('starts at the tail when asked for trimmed history', async () => {
        await create('room:a', { initial: ['1', '2', '3', '4', '5'] })
        await store.trim('room:a', { policy: { maxCount: 2 }, now: T0 })
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([4, 5])
        expect(offsets(await store.read('room:a', 4, 10))).toEqual([5])
      })

      it('stops at the byte bound, past the first message, whatever the count allows', async () => {
        // Payload sizes 10, 1, 1, 1, 10, 1 (bytes).
        await create('room:a', { initial: ['"aaaaaaaa"', '1', '2', '3', '4444444444', '5'] })
        const sizesOf = (page: readonly StoredMessage[]) => page.map((m) => m.data.byteLength)
        // The first message is read alone when it exceeds the bound: a reader always progresses.
        expect(offsets(await store.read('room:a', 0, 10, 3))).toEqual([1])
        expect(offsets(await store.read('room:a', 0, 10, 1))).toEqual([1])
        // Then whatever fits: 1 + 1 + 1 ≤ 3, and the next (10 bytes) would not.
        expect(offsets(await store.read('room:a', 1, 10, 3))).toEqual([2, 3, 4])
        expect(offsets(await store.read('room:a', 1, 10, 2))).toEqual([2, 3])
        // Exactly at the bound is within it.
        expect(offsets(await store.read('room:a', 0, 10, 11))).toEqual([1, 2])
        expect(offsets(await store.read('room:a', 0, 10, 10))).toEqual([1])
        // The count bound still applies, and whichever is reached first ends the page.
        expect(offsets(await store.read('room:a', 1, 2, 100))).toEqual([2, 3])
        expect(offsets(await store.read('room:a', 0, 10, 1_000))).toEqual([1, 2, 3, 4, 5, 6])
        expect(sizesOf(await store.read('room:a', 4, 10, 5))).toEqual([10])
        expect(await store.read('room:a', 6, 10, 100)).toEqual([])
        expect(await store.read('nope', 0, 10, 100)).toEqual([])
        expect(await store.read('room:a', 0, 0, 100)).toEqual([])
        // The payloads read are the ones stored.
        const page = await store.read('room:a', 1, 10, 3)
        expect(texts(page)).toEqual(['1', '2', '3'])
      })

      it('pages through large messages one byte-bounded page at a time, in order', async () => {
        const large = Array.from({ length: 8 }, (_, i) => `"${String(i).repeat(4_000)}"`)
        await create('room:a', { initial: large })
        const seen: number[] = []
        let after = 0
        for (;;) {
          const page = await store.read('room:a', after, 512, 9_000)
          if (page.length === 0) break
          // 4,002-byte messages, 9,000 bytes a page: two of them, never the 512 the count allows.
          expect(page.length).toBeLessThanOrEqual(2)
          expect(page.reduce((sum, m) => sum + m.data.byteLength, 0)).toBeLessThanOrEqual(9_000)
          seen.push(...offsets(page))
          after = page.at(-1)?.offset ?? after
        }
        expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      })

      it('applies the byte bound from the retained tail', async () => {
        await create('room:a', { initial: ['"aaaa"', '"bbbb"', '"cccc"', '"dddd"'] })
        await store.trim('room:a', { policy: { maxCount: 2 }, now: T0 })
        expect(offsets(await store.read('room:a', 0, 10, 6))).toEqual([3])
        expect(offsets(await store.read('room:a', 0, 10, 12))).toEqual([3, 4])
      })
    })

    describe('readJsonArray', () => {
      it('returns the messages after an offset as one JSON array, within the limits', async () => {
        await create('room:a', { initial: ['1', '{"b":2}', '"three"', '[4]', 'null'] })
        const all = await store.readJsonArray('room:a', 0, 10, 1024)
        expect(all).toMatchObject({ first: 1, last: 5, count: 5, bytes: 22 })
        expect(JSON.parse(all?.body.toString() ?? '')).toEqual([1, { b: 2 }, 'three', [4], null])
        const page = await store.readJsonArray('room:a', 1, 2, 1024)
        expect(page).toMatchObject({ first: 2, last: 3, count: 2 })
        expect(JSON.parse(page?.body.toString() ?? '')).toEqual([{ b: 2 }, 'three'])
        expect(await store.readJsonArray('room:a', 5, 10, 1024)).toBeUndefined()
        expect(await store.readJsonArray('nope', 0, 10, 1024)).toBeUndefined()
      })

      it('keeps the first message and then only what fits in the byte budget', async () => {
        await create('room:a', { initial: ['"aaaaaaaaaa"', '1', '2', '3'] })
        const over = await store.readJsonArray('room:a', 0, 10, 3)
        expect(over).toMatchObject({ first: 1, last: 1, count: 1, bytes: 12 })
        const some = await store.readJsonArray('room:a', 1, 10, 2)
        expect(JSON.parse(some?.body.toString() ?? '')).toEqual([1, 2])
      })

      it('pages through large messages within the byte budget, in order', async () => {
        const large = Array.from({ length: 6 }, (_, i) => `"${String(i).repeat(4_000)}"`)
        await create('room:a', { initial: large })
        const values: string[] = []
        let after = 0
        for (;;) {
          const chunk = await store.readJsonArray('room:a', after, 10_000, 9_000)
          if (chunk === undefined) break
          expect(chunk.count).toBeLessThanOrEqual(2)
          expect(chunk.bytes).toBeLessThanOrEqual(9_000)
          values.push(...(JSON.parse(chunk.body.toString()) as string[]))
          after = chunk.last
        }
        expect(values).toEqual(large.map((v) => JSON.parse(v) as string))
      })

      it('starts at the tail when asked for trimmed history', async () => {
        await create('room:a', { initial: ['1', '2', '3', '4', '5'] })
        await store.trim('room:a', { policy: { maxCount: 2 }, now: T0 })
        const chunk = await store.readJsonArray('room:a', 0, 10, 1024)
        expect(chunk).toMatchObject({ first: 4, last: 5, count: 2 })
        expect(JSON.parse(chunk?.body.toString() ?? '')).toEqual([4, 5])
      })
    })

    describe('trim', () => {
      async function seedByAge(stream: string): Promise<void> {
        await create(stream)
        // Offsets 1..5 committed at T0, T0+10, …, T0+40.
        for (let i = 0; i < 5; i++)
          await appendOne(pub(stream, [String(i + 1)], { now: T0 + i * 10 }))
      }

      it('keeps the newest maxCount messages and returns the new tail', async () => {
        await create('room:a', { initial: ['1', '2', '3', '4', '5'] })
        expect(await store.trim('room:a', { policy: { maxCount: 3 }, now: T0 })).toBe(3)
        expect(await store.getStream('room:a')).toMatchObject({ head: 5, tail: 3 })
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([3, 4, 5])
        // Trimming again with the same policy changes nothing.
        expect(await store.trim('room:a', { policy: { maxCount: 3 }, now: T0 })).toBe(3)
      })

      it('deletes messages older than maxAgeMs and keeps those at the limit', async () => {
        await seedByAge('room:a')
        // Cut-off T0+20: offsets 1 and 2 (T0, T0+10) go; offset 3 (exactly T0+20) stays.
        expect(await store.trim('room:a', { policy: { maxAgeMs: 30 }, now: T0 + 50 })).toBe(3)
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([3, 4, 5])
      })

      it('applies whichever of age and count trims more', async () => {
        await seedByAge('room:a')
        expect(
          await store.trim('room:a', { policy: { maxAgeMs: 1_000, maxCount: 2 }, now: T0 + 50 }),
        ).toBe(4)
        expect(
          await store.trim('room:a', { policy: { maxAgeMs: 5, maxCount: 100 }, now: T0 + 50 }),
        ).toBe(6)
      })

      it('never deletes offsets at or after keepFrom', async () => {
        await create('room:a', { initial: ['1', '2', '3', '4', '5'] })
        expect(await store.trim('room:a', { policy: { maxCount: 0 }, now: T0, keepFrom: 3 })).toBe(
          3,
        )
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([3, 4, 5])
        // keepFrom below the tail never moves the tail back.
        expect(await store.trim('room:a', { policy: { maxCount: 0 }, now: T0, keepFrom: 1 })).toBe(
          3,
        )
        expect((await store.getStream('room:a'))?.tail).toBe(3)
      })

      it('sets the tail to head + 1 when everything is trimmed and keeps the head', async () => {
        await create('room:a', { initial: ['1', '2', '3'] })
        expect(await store.trim('room:a', { policy: { maxAgeMs: 0 }, now: T0 + 1 })).toBe(4)
        expect(await store.getStream('room:a')).toMatchObject({ head: 3, tail: 4 })
        expect(await store.read('room:a', 0, 10)).toEqual([])
        // Offsets are never reused: the next append continues after the old head.
        const next = appended(await appendOne(pub('room:a', ['4'])))
        expect(offsets(next.messages)).toEqual([4])
        expect(await store.getStream('room:a')).toMatchObject({ head: 4, tail: 4 })
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([4])
      })

      it('leaves an empty stream at head 0, tail 1', async () => {
        await create('room:a')
        expect(await store.trim('room:a', { policy: { maxCount: 0, maxAgeMs: 0 }, now: T0 })).toBe(
          1,
        )
        expect(await store.getStream('room:a')).toMatchObject({ head: 0, tail: 1 })
      })

      it('trims nothing with an empty policy', async () => {
        await create('room:a', { initial: ['1', '2'] })
        expect(await store.trim('room:a', { policy: {}, now: T0 + 1e9 })).toBe(1)
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([1, 2])
      })

      it('returns 0 for an unknown stream', async () => {
        expect(await store.trim('nope', { policy: { maxCount: 0 }, now: T0 })).toBe(0)
      })

      it('stops trimming by age at the first message young enough', async () => {
        await create('room:a')
        // A clock step back between nodes: offset 2 is younger than offset 3.
        await appendOne(pub('room:a', ['1'], { now: T0 }))
        await appendOne(pub('room:a', ['2'], { now: T0 + 100 }))
        await appendOne(pub('room:a', ['3'], { now: T0 + 10 }))
        expect(await store.trim('room:a', { policy: { maxAgeMs: 50 }, now: T0 + 100 })).toBe(2)
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([2, 3])
      })
    })

    describe('trim until acked', () => {
      const untilAcked = { untilAcked: true } as const

      /** A stream with messages 1…`count` and registered clients c1, c2, c3. */
      async function seed(count = 10): Promise<StreamRecord> {
        const stream = await create('room:a', {
          initial: Array.from({ length: count }, (_, i) => String(i + 1)),
        })
        for (const id of ['c1', 'c2', 'c3']) await store.createClient(client(id, `user-${id}`))
        return stream
      }

      async function ack(clientId: string, epoch: string, offset: number): Promise<void> {
        await store.saveCursors([{ clientId, stream: 'room:a', epoch, offset }], T0)
      }

      it('trims what every client following the stream has acked', async () => {
        const { epoch } = await seed()
        await ack('c1', epoch, 7)
        await ack('c2', epoch, 4)
        // A cursor of an older epoch: c3 does not follow this history, it holds nothing back.
        await ack('c3', 'old-epoch', 1)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(5)
        expect(offsets(await store.read('room:a', 0, 20))).toEqual([5, 6, 7, 8, 9, 10])
        await ack('c2', epoch, 9)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(8)
        await ack('c1', epoch, 10)
        await ack('c2', epoch, 10)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(11)
        expect(await store.getStream('room:a')).toMatchObject({ head: 10, tail: 11 })
      })

      it('keeps every message of a stream that no client follows', async () => {
        await seed()
        await ack('c1', 'old-epoch', 10)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(1)
        expect(await store.read('room:a', 0, 20)).toHaveLength(10)
      })

      it('stops holding back for a client once it is deleted', async () => {
        const { epoch } = await seed()
        await ack('c1', epoch, 9)
        await ack('c2', epoch, 2)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(3)
        await store.deleteClient('c2')
        expect(await store.trim('room:a', { policy: untilAcked, now: T0 })).toBe(10)
      })

      it('trims what is older than maxAgeMs whatever the acks, and caps the count', async () => {
        const { epoch } = await create('room:a')
        // Offsets 1…5 committed at T0, T0+10, …, T0+40.
        for (let i = 0; i < 5; i++)
          await appendOne(pub('room:a', [String(i)], { now: T0 + i * 10 }))
        await store.createClient(client('c1', 'alice'))
        await ack('c1', epoch, 1)
        const now = T0 + 50
        expect(await store.trim('room:a', { policy: { ...untilAcked, maxAgeMs: 25 }, now })).toBe(4)
        expect(await store.trim('room:a', { policy: { ...untilAcked, maxCount: 1 }, now })).toBe(5)
        expect(offsets(await store.read('room:a', 0, 10))).toEqual([5])
      })

      it('never trims keepFrom or after it', async () => {
        const { epoch } = await seed()
        await ack('c1', epoch, 10)
        expect(await store.trim('room:a', { policy: untilAcked, now: T0, keepFrom: 6 })).toBe(6)
        expect(offsets(await store.read('room:a', 0, 20))).toEqual([6, 7, 8, 9, 10])
      })

      it('applies only with untilAcked in the policy', async () => {
        const { epoch } = await seed()
        await ack('c1', epoch, 10)
        expect(await store.trim('room:a', { policy: { maxCount: 8 }, now: T0 })).toBe(3)
      })

      it('lists the clients holding the tail back, lowest cursor first', async () => {
        const { epoch } = await seed()
        await store.createClient(client('c0', 'user-c0'))
        await store.touchClients(['c2'], T0 + 5)
        await ack('c1', epoch, 7)
        await ack('c2', epoch, 4)
        await ack('c0', epoch, 7)
        await ack('c3', epoch, 10) // caught up: holds nothing back
        await store.saveCursors([{ clientId: 'c3', stream: 'room:b', epoch, offset: 0 }], T0)
        expect(await store.retentionHolders('room:a', 10)).toEqual([
          { clientId: 'c2', userId: 'user-c2', offset: 4, behind: 6, lastSeenAt: T0 + 5 },
          { clientId: 'c0', userId: 'user-c0', offset: 7, behind: 3, lastSeenAt: T0 },
          { clientId: 'c1', userId: 'user-c1', offset: 7, behind: 3, lastSeenAt: T0 },
        ])
        expect((await store.retentionHolders('room:a', 1)).map((h) => h.clientId)).toEqual(['c2'])
        await ack('c2', 'new-epoch', 0)
        expect((await store.retentionHolders('room:a', 10)).map((h) => h.clientId)).toEqual([
          'c0',
          'c1',
        ])
        expect(await store.retentionHolders('room:nope', 10)).toEqual([])
      })
    })

    describe('delivery state', () => {
      /** room:a with messages 1…10; clients c1 and c3 of alice, c2 of bob. */
      async function seed(): Promise<StreamRecord> {
        const stream = await create('room:a', {
          initial: Array.from({ length: 10 }, (_, i) => String(i + 1)),
        })
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'bob'))
        await store.createClient(client('c3', 'alice'))
        return stream
      }

      it('lists the position of every client of a stream and how far behind the head it is', async () => {
        const { epoch } = await seed()
        await store.saveCursors(
          [
            { clientId: 'c2', stream: 'room:a', epoch, offset: 10 },
            { clientId: 'c1', stream: 'room:a', epoch, offset: 7 },
            { clientId: 'c3', stream: 'room:a', epoch: 'old-epoch', offset: 3 },
          ],
          T0 + 5,
        )
        const position = (id: string, userId: string, offset: number, behind: number | null) => ({
          clientId: id,
          userId,
          epoch: behind === null ? 'old-epoch' : epoch,
          offset,
          updatedAt: T0 + 5,
          following: behind !== null,
          behind,
        })
        expect(await store.streamDelivery('room:a', { limit: 10 })).toEqual({
          stream: 'room:a',
          epoch,
          head: 10,
          tail: 1,
          followers: [
            position('c1', 'alice', 7, 3),
            position('c2', 'bob', 10, 0),
            position('c3', 'alice', 3, null),
          ],
        })
        const page1 = await store.streamDelivery('room:a', { limit: 2 })
        expect(page1?.followers.map((f) => f.clientId)).toEqual(['c1', 'c2'])
        const page2 = await store.streamDelivery('room:a', { after: 'c2', limit: 2 })
        expect(page2?.followers.map((f) => f.clientId)).toEqual(['c3'])
        const alice = await store.streamDelivery('room:a', { userId: 'alice', limit: 10 })
        expect(alice?.followers.map((f) => f.clientId)).toEqual(['c1', 'c3'])
      })

      it('reports a stream without cursors, and nothing for an unknown or deleted stream', async () => {
        const { epoch } = await seed()
        await store.trim('room:a', { policy: { maxCount: 4 }, now: T0 })
        expect(await store.streamDelivery('room:a', { limit: 10 })).toEqual({
          stream: 'room:a',
          epoch,
          head: 10,
          tail: 7,
          followers: [],
        })
        expect(await store.streamDelivery('room:a', { limit: 0 })).toMatchObject({ followers: [] })
        expect(await store.streamDelivery('room:nope', { limit: 10 })).toBeUndefined()
        await store.createStream({
          name: 'fork',
          contentType: JSON_TYPE,
          now: T0,
          fork: { source: 'room:a', offset: 10, subOffset: 0 },
        })
        await store.deleteStream('room:a')
        expect(await store.streamDelivery('room:a', { limit: 10 })).toBeUndefined()
      })

      it('lists the streams of a client with its cursor, the head and what it has not acked', async () => {
        const { epoch } = await seed()
        const b = await create('room:b', { initial: ['1', '2'] })
        await store.trim('room:a', { policy: { maxCount: 2 }, now: T0 })
        await store.saveCursors(
          [
            { clientId: 'c1', stream: 'room:a', epoch, offset: 7 },
            { clientId: 'c1', stream: 'room:b', epoch: 'old-epoch', offset: 5 },
            { clientId: 'c1', stream: 'room:gone', epoch: 'e', offset: 1 },
            { clientId: 'c2', stream: 'room:b', epoch: b.epoch, offset: 2 },
          ],
          T0 + 5,
        )
        const all = await store.clientDelivery('c1', { limit: 10 })
        expect(all).toEqual([
          {
            stream: 'room:a',
            epoch,
            offset: 7,
            updatedAt: T0 + 5,
            head: 10,
            // Its next message, 8, was trimmed before it acked it: it missed it.
            tail: 9,
            following: true,
            unacked: 3,
          },
          {
            stream: 'room:b',
            epoch: 'old-epoch',
            offset: 5,
            updatedAt: T0 + 5,
            head: 2,
            tail: 1,
            following: false,
            unacked: null,
          },
          {
            stream: 'room:gone',
            epoch: 'e',
            offset: 1,
            updatedAt: T0 + 5,
            head: null,
            tail: null,
            following: false,
            unacked: null,
          },
        ])
        expect(
          (await store.clientDelivery('c1', { after: 'room:a', limit: 1 })).map((d) => d.stream),
        ).toEqual(['room:b'])
        expect(await store.clientDelivery('c2', { limit: 10 })).toMatchObject([
          { stream: 'room:b', following: true, unacked: 0 },
        ])
        expect(await store.clientDelivery('nobody', { limit: 10 })).toEqual([])
      })
    })

    describe('findUnread', () => {
      /** Offline and committed bounds of the queries below: everything before T0 + 1000. */
      const BEFORE = T0 + 1_000

      /** Appends one message per sender to `stream`, at T0 + offset (ts grows with offsets). */
      async function say(stream: string, senders: readonly (string | null)[]): Promise<void> {
        for (const from of senders) {
          const head = (await store.getStream(stream))?.head ?? 0
          await appendOne(pub(stream, [JSON.stringify(from)], { from, now: T0 + head + 1 }))
        }
      }

      async function ack(clientId: string, stream: string, offset: number, epoch?: string) {
        const current = (await store.getStream(stream))?.epoch ?? 'none'
        await store.saveCursors([{ clientId, stream, epoch: epoch ?? current, offset }], T0)
      }

      function unreadPage(extra: Partial<UnreadQuery> = {}): Promise<UnreadEpisode[]> {
        return store.findUnread({
          offlineBefore: BEFORE,
          committedBefore: BEFORE,
          limit: 100,
          ...extra,
        })
      }

      it('reports what an offline user has not acked on any client, from the furthest ack', async () => {
        const { epoch } = await create('room:a')
        await say('room:a', ['bob', 'bob', 'bob', 'bob', 'bob', 'bob'])
        await store.createClients([client('c1', 'alice'), client('c2', 'alice')])
        await ack('c1', 'room:a', 2)
        await ack('c2', 'room:a', 4)
        expect(await unreadPage()).toEqual([
          {
            user: 'alice',
            stream: 'room:a',
            epoch,
            firstUnreadOffset: 5,
            since: T0 + 5,
            unread: 2,
          },
        ])
        await ack('c1', 'room:a', 6)
        expect(await unreadPage()).toEqual([])
      })

      it('counts neither the own messages of the user nor, before the first, their ts', async () => {
        await create('room:a')
        // 1 bob (acked), 2-3 alice, 4 bob, 5 server, 6 alice.
        await say('room:a', ['bob', 'alice', 'alice', 'bob', null, 'alice'])
        await create('room:b')
        await say('room:b', ['bob', 'alice', 'alice'])
        await store.createClient(client('c1', 'alice'))
        await ack('c1', 'room:a', 1)
        await ack('c1', 'room:b', 1)
        // A first unread message committed at the bound is not reported yet; its own messages
        // before it do not make it older.
        expect(await unreadPage({ committedBefore: T0 + 4 })).toEqual([])
        expect(await unreadPage({ committedBefore: T0 + 5 })).toMatchObject([
          { user: 'alice', stream: 'room:a', firstUnreadOffset: 4, since: T0 + 4, unread: 2 },
        ])
      })

      it('says nothing of a user one of whose clients was seen since offlineBefore', async () => {
        await create('room:a')
        await say('room:a', ['carol', 'carol'])
        await store.createClients([
          client('a1', 'alice'),
          // Seen exactly at the bound: connected, as far as the query knows.
          client('a2', 'alice', BEFORE),
          client('b1', 'bob', BEFORE - 1),
        ])
        await ack('a1', 'room:a', 0)
        await ack('b1', 'room:a', 0)
        expect((await unreadPage()).map((e) => e.user)).toEqual(['bob'])
        // Alice's other client alone would not silence her: she is offline once it is unseen.
        expect((await unreadPage({ offlineBefore: BEFORE + 1 })).map((e) => e.user)).toEqual([
          'alice',
          'bob',
        ])
        await store.touchClients(['b1'], BEFORE + 5)
        expect(await unreadPage({ offlineBefore: BEFORE + 1 })).toMatchObject([{ user: 'alice' }])
      })

      it("counts only cursors of the stream's current epoch", async () => {
        await create('room:a')
        await say('room:a', ['bob', 'bob', 'bob'])
        await store.createClients([client('c1', 'alice'), client('c2', 'alice')])
        await store.createClient(client('d1', 'dave'))
        // c1 acked far in a history that is gone, c2 acked 1 in this one: from 1 on.
        await ack('c1', 'room:a', 3, 'old-epoch')
        await ack('c2', 'room:a', 1)
        // Dave follows nothing of this history: the stream is not his inbox.
        await ack('d1', 'room:a', 0, 'old-epoch')
        expect(await unreadPage()).toMatchObject([
          { user: 'alice', firstUnreadOffset: 2, unread: 2 },
        ])
        // The stream is recreated: a new epoch, no cursor in it, nothing to report.
        await store.deleteStream('room:a')
        const { epoch } = await create('room:a')
        await say('room:a', ['bob'])
        expect(await unreadPage()).toEqual([])
        await ack('c1', 'room:a', 0)
        expect(await unreadPage()).toEqual([
          {
            user: 'alice',
            stream: 'room:a',
            epoch,
            firstUnreadOffset: 1,
            since: T0 + 1,
            unread: 1,
          },
        ])
      })

      it('starts at the first retained message when the next one was trimmed', async () => {
        await create('room:a')
        await say('room:a', ['bob', 'bob', 'bob', 'bob'])
        await store.createClient(client('c1', 'alice'))
        await ack('c1', 'room:a', 0)
        await store.trim('room:a', { policy: { maxCount: 2 }, now: T0 })
        expect(await unreadPage()).toMatchObject([{ firstUnreadOffset: 3, unread: 2 }])
      })

      it('caps the count at maxCount', async () => {
        await create('room:a')
        await say('room:a', ['bob', 'alice', 'bob', 'bob', 'bob'])
        await store.createClient(client('c1', 'alice'))
        await ack('c1', 'room:a', 0)
        expect(await unreadPage({ maxCount: 3 })).toMatchObject([
          { firstUnreadOffset: 1, unread: 3 },
        ])
        expect(await unreadPage({ maxCount: 0 })).toMatchObject([{ unread: 1 }])
        expect(await unreadPage()).toMatchObject([{ unread: 4 }])
      })

      it('pages by (user, stream) in byte order', async () => {
        for (const stream of ['room:b', 'room:a', 'room:B']) {
          await create(stream)
          await say(stream, ['zed'])
        }
        await store.createClients([
          client('c1', 'bob'),
          client('c2', 'alice'),
          client('c3', 'Bob'),
          client('c4', 'alice'),
        ])
        for (const id of ['c1', 'c2', 'c3']) {
          for (const stream of ['room:b', 'room:a', 'room:B']) await ack(id, stream, 0)
        }
        // c4 of alice is caught up on room:a: alice's furthest ack there is the head.
        await ack('c4', 'room:a', 1)
        const key = (e: UnreadEpisode): string => `${e.user} ${e.stream}`
        const all = (await unreadPage()).map(key)
        expect(all).toEqual([
          'Bob room:B',
          'Bob room:a',
          'Bob room:b',
          'alice room:B',
          'alice room:b',
          'bob room:B',
          'bob room:a',
          'bob room:b',
        ])
        const pages: string[] = []
        let after: UnreadQuery['after']
        for (;;) {
          const page = await unreadPage({ after, limit: 3 })
          pages.push(...page.map(key))
          const last = page.at(-1)
          if (last === undefined) break
          after = { user: last.user, stream: last.stream }
        }
        expect(pages).toEqual(all)
        expect(await unreadPage({ limit: 0 })).toEqual([])
        expect((await unreadPage({ after: { user: 'alice', stream: 'room:a' } })).map(key)).toEqual(
          all.slice(4),
        )
      })
    })

    describe('leases', () => {
      const TTL = 100

      it('grants a free lease and refuses it to another holder until it expires', async () => {
        expect(await store.claimLease('webhooks', 'a', TTL, T0)).toBe(true)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 1)).toBe(false)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + TTL - 1)).toBe(false)
        // Expired at T0 + TTL: taken over, and the former holder is refused in turn.
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + TTL)).toBe(true)
        expect(await store.claimLease('webhooks', 'a', TTL, T0 + TTL + 1)).toBe(false)
      })

      it('renews a lease its holder claims again, from the time of the renewal', async () => {
        expect(await store.claimLease('webhooks', 'a', TTL, T0)).toBe(true)
        expect(await store.claimLease('webhooks', 'a', TTL, T0 + 90)).toBe(true)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 150)).toBe(false)
        // Even expired, its holder takes it back while nobody else has.
        expect(await store.claimLease('webhooks', 'a', TTL, T0 + 500)).toBe(true)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 599)).toBe(false)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 600)).toBe(true)
      })

      it('releases a lease for its holder only, and it is free at once', async () => {
        expect(await store.claimLease('webhooks', 'a', TTL, T0)).toBe(true)
        expect(await store.releaseLease('webhooks', 'b')).toBe(false)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 1)).toBe(false)
        expect(await store.releaseLease('webhooks', 'a')).toBe(true)
        expect(await store.releaseLease('webhooks', 'a')).toBe(false)
        expect(await store.claimLease('webhooks', 'b', TTL, T0 + 2)).toBe(true)
        expect(await store.releaseLease('nothing', 'b')).toBe(false)
      })

      it('keeps leases of different names apart', async () => {
        expect(await store.claimLease('webhooks', 'a', TTL, T0)).toBe(true)
        expect(await store.claimLease('other', 'b', TTL, T0)).toBe(true)
        expect(await store.claimLease('other', 'a', TTL, T0)).toBe(false)
        expect(await store.releaseLease('other', 'b')).toBe(true)
        expect(await store.claimLease('webhooks', 'b', TTL, T0)).toBe(false)
      })

      it('gives a lease that several holders claim at once to exactly one of them', async () => {
        const holders = Array.from({ length: 8 }, (_, i) => `node-${i}`)
        const claims = await Promise.all(
          holders.map((h) => store.claimLease('webhooks', h, TTL, T0)),
        )
        expect(claims.filter(Boolean)).toHaveLength(1)
        // The same race once it has expired: again exactly one holder.
        const again = await Promise.all(
          holders.map((h) => store.claimLease('webhooks', h, TTL, T0 + TTL)),
        )
        expect(again.filter(Boolean)).toHaveLength(1)
      })
    })

    describe('deleteStream', () => {
      it('deletes the stream with its messages, producers and cursors only', async () => {
        await create('room:a', { initial: ['1'] })
        await create('room:b', { initial: ['1'] })
        for (const s of ['room:a', 'room:b']) {
          await appendOne(pub(s, ['2'], { producer: producer('p', 0, 0) }))
        }
        await store.createClient(client('c1', 'alice'))
        const epochA = (await store.getStream('room:a'))?.epoch ?? ''
        const epochB = (await store.getStream('room:b'))?.epoch ?? ''
        await store.saveCursors(
          [
            { clientId: 'c1', stream: 'room:a', epoch: epochA, offset: 1 },
            { clientId: 'c1', stream: 'room:b', epoch: epochB, offset: 2 },
          ],
          T0,
        )

        expect(await store.deleteStream('room:a')).toBe(true)
        expect(await store.deleteStream('room:a')).toBe(false)
        expect(await store.getStream('room:a')).toBeUndefined()
        expect(await store.read('room:a', 0, 10)).toEqual([])
        expect(await store.getProducer('room:a', 'p')).toBeUndefined()
        expect(await store.getCursorsOfStream('room:a')).toEqual([])
        expect((await store.getCursors('c1')).map((c) => c.stream)).toEqual(['room:b'])
        expect(offsets(await store.read('room:b', 0, 10))).toEqual([1, 2])
        expect(await store.getProducer('room:b', 'p')).toMatchObject({ lastOffset: 2 })
        expect(await store.getClient('c1')).toBeDefined()
      })

      it('lets a recreated stream start from offset 1 with fresh producer state', async () => {
        await create('room:a', { initial: ['1', '2'] })
        await appendOne(pub('room:a', ['3'], { producer: producer('p', 0, 0) }))
        await store.deleteStream('room:a')
        await create('room:a')
        const result = appended(
          await appendOne(pub('room:a', ['x'], { producer: producer('p', 0, 0) })),
        )
        expect(offsets(result.messages)).toEqual([1])
      })
    })

    describe('forks (Durable Streams §4.2)', () => {
      async function fork(
        name: string,
        source: string,
        offset: number,
        extra: { subOffset?: number; contentType?: string; initial?: string[] } = {},
      ) {
        return store.createStream({
          name,
          contentType: extra.contentType ?? JSON_TYPE,
          now: T0 + 1,
          initial: (extra.initial ?? []).map(bytes),
          fork: { source, offset, subOffset: extra.subOffset ?? 0 },
        })
      }

      it('copies the source up to the fork offset at the same offsets and epoch', async () => {
        const source = await create('src', { initial: ['1', '2', '3'] })
        const result = await fork('f', 'src', 2, { initial: ['x'] })
        expect(result).toMatchObject({
          kind: 'created',
          stream: { epoch: source.epoch, head: 3, tail: 1, fork: { source: 'src', offset: 2 } },
        })
        const read = await store.read('f', 0, 10)
        expect(offsets(read)).toEqual([1, 2, 3])
        expect(texts(read)).toEqual(['1', '2', 'x'])
        // The source is untouched and keeps growing on its own.
        await appendOne(pub('src', ['4']))
        expect(texts(await store.read('f', 0, 10))).toEqual(['1', '2', 'x'])
        expect(await head('src')).toBe(4)
      })

      it('inherits no producer state and no Stream-Seq', async () => {
        await create('src')
        await appendOne(pub('src', ['1'], { producer: producer('p', 0, 0), streamSeq: 'b' }))
        await fork('f', 'src', 1)
        expect(await store.getProducer('f', 'p')).toBeUndefined()
        expect((await store.getStream('f'))?.streamSeq).toBeNull()
        expect((await store.read('f', 0, 10))[0]).toMatchObject({ producer: null, seq: null })
        const again = await appendOne(
          pub('f', ['2'], { producer: producer('p', 0, 0), streamSeq: 'a' }),
        )
        expect(appended(again).head).toBe(2)
      })

      it('takes a sub-offset as messages on JSON streams and as bytes otherwise', async () => {
        await create('json', { initial: ['{"a":1}', '{"b":2}', '{"c":3}'] })
        expect(await fork('fj', 'json', 0, { subOffset: 2 })).toMatchObject({ kind: 'created' })
        expect(texts(await store.read('fj', 0, 10))).toEqual(['{"a":1}', '{"b":2}'])
        await store.createStream({
          name: 'text',
          contentType: 'text/plain',
          now: T0,
          initial: [bytes('hello'), bytes('world')],
        })
        expect(
          await fork('ft', 'text', 1, { subOffset: 3, contentType: 'text/plain' }),
        ).toMatchObject({
          kind: 'created',
          stream: { head: 2 },
        })
        expect(texts(await store.read('ft', 0, 10))).toEqual(['hello', 'wor'])
      })

      it('rejects a missing source, a fork point past the head and a mismatched content type', async () => {
        await create('src', { initial: ['1'] })
        expect(await fork('f', 'nope', 0)).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.STREAM_NOT_FOUND,
        })
        expect(await fork('f', 'src', 2)).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.BAD_REQUEST,
        })
        expect(await fork('f', 'src', 0, { subOffset: 2 })).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.BAD_REQUEST,
        })
        expect(await fork('f', 'src', 1, { contentType: 'text/plain' })).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        expect(await store.getStream('f')).toBeUndefined()
      })

      it('is idempotent for the same lineage and conflicts for another', async () => {
        await create('src', { initial: ['1', '2'] })
        expect((await fork('f', 'src', 1)).kind).toBe('created')
        expect((await fork('f', 'src', 1)).kind).toBe('exists')
        expect((await fork('f', 'src', 2)).kind).toBe('conflict')
        expect((await fork('f', 'src', 1, { subOffset: 1 })).kind).toBe('conflict')
        expect((await create('plain')).name).toBe('plain')
        expect((await fork('plain', 'src', 1)).kind).toBe('conflict')
      })

      it('soft-deletes a source with forks and removes it with its last fork, up the chain', async () => {
        await create('a', { initial: ['1'] })
        await fork('b', 'a', 1)
        await fork('c', 'b', 1)
        expect(await store.deleteStream('a')).toBe(true)
        expect(await store.getStream('a')).toMatchObject({ softDeleted: true })
        expect(await store.read('a', 0, 10)).toEqual([])
        expect(await store.deleteStream('a')).toBe(false)
        expect(await appendOne(pub('a', ['x']))).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.GONE,
        })
        expect((await create('x')).name).toBe('x')
        const recreate = await store.createStream({ name: 'a', contentType: JSON_TYPE, now: T0 })
        expect(recreate.kind).toBe('conflict')
        expect(await fork('d', 'a', 0)).toMatchObject({
          kind: 'rejected',
          code: ErrorCode.CONFLICT,
        })
        expect(await store.deleteStream('b')).toBe(true)
        expect(await store.getStream('b')).toMatchObject({ softDeleted: true })
        expect(texts(await store.read('c', 0, 10))).toEqual(['1'])
        expect(await store.deleteStream('c')).toBe(true)
        expect(await store.getStream('c')).toBeUndefined()
        expect(await store.getStream('b')).toBeUndefined()
        expect(await store.getStream('a')).toBeUndefined()
      })
    })

    describe('expiredStreams', () => {
      it('lists live streams past their expiry or sliding TTL, in name order', async () => {
        const put = (name: string, extra: { ttlSeconds?: number; expiresAt?: number }) =>
          store.createStream({ name, contentType: JSON_TYPE, now: T0, ...extra })
        await put('ttl', { ttlSeconds: 10 })
        await put('abs', { expiresAt: T0 + 5_000 })
        await put('forever', {})
        expect(await store.expiredStreams(T0 + 4_999, 10)).toEqual([])
        expect(await store.expiredStreams(T0 + 5_000, 10)).toEqual(['abs'])
        await store.touchStream('ttl', T0 + 5_000)
        expect(await store.expiredStreams(T0 + 14_999, 10)).toEqual(['abs'])
        expect(await store.expiredStreams(T0 + 15_000, 10)).toEqual(['abs', 'ttl'])
        expect(await store.expiredStreams(T0 + 15_000, 1)).toEqual(['abs'])
      })

      it('leaves soft-deleted streams out', async () => {
        await store.createStream({ name: 'a', contentType: JSON_TYPE, now: T0, ttlSeconds: 1 })
        await store.createStream({
          name: 'b',
          contentType: JSON_TYPE,
          now: T0,
          fork: { source: 'a', offset: 0, subOffset: 0 },
        })
        await store.deleteStream('a')
        expect(await store.expiredStreams(T0 + 60_000, 10)).toEqual([])
      })
    })

    describe('clients', () => {
      it('creates, reads and counts clients per user', async () => {
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'alice'))
        await store.createClient(client('c3', 'bob'))
        expect(await store.getClient('c1')).toEqual(stored('c1', 'alice'))
        expect(await store.getClient('nope')).toBeUndefined()
        expect(await store.countClientsOfUser('alice')).toBe(2)
        expect(await store.countClientsOfUser('bob')).toBe(1)
        expect(await store.countClientsOfUser('carol')).toBe(0)
      })

      it('rejects a second client with the same id with CONFLICT', async () => {
        await store.createClient(client('c1', 'alice'))
        await expect(store.createClient(client('c1', 'mallory'))).rejects.toMatchObject({
          code: ErrorCode.CONFLICT,
        })
        expect((await store.getClient('c1'))?.userId).toBe('alice')
      })

      it('moves lastSeenAt forward and ignores unknown ids', async () => {
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'alice'))
        await store.touchClients(['c1', 'nope'], T0 + 100)
        expect((await store.getClient('c1'))?.lastSeenAt).toBe(T0 + 100)
        expect((await store.getClient('c2'))?.lastSeenAt).toBe(T0)
        expect(await store.getClient('nope')).toBeUndefined()
        await store.touchClients(['c1'], T0 + 50)
        expect((await store.getClient('c1'))?.lastSeenAt).toBe(T0 + 100)
      })

      it('deletes a client with its cursors', async () => {
        await create('room:a')
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'alice'))
        await store.saveCursors(
          [
            { clientId: 'c1', stream: 'room:a', epoch: 'e', offset: 1 },
            { clientId: 'c2', stream: 'room:a', epoch: 'e', offset: 2 },
          ],
          T0,
        )
        expect(await store.deleteClient('c1')).toBe(true)
        expect(await store.deleteClient('c1')).toBe(false)
        expect(await store.getClient('c1')).toBeUndefined()
        expect(await store.getCursors('c1')).toEqual([])
        expect((await store.getCursorsOfStream('room:a')).map((c) => c.clientId)).toEqual(['c2'])
        // A client registered again under that id does not inherit the old cursors.
        await store.createClient(client('c1', 'alice'))
        expect(await store.getCursors('c1')).toEqual([])
      })

      it('replaces a client secret hash, and reports an unknown client', async () => {
        // Optional on the Store interface until every store has it (see store.ts).
        expect(store.updateClientSecret).toBeTypeOf('function')
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'alice'))
        expect(await store.updateClientSecret('c1', 'rotated-hash')).toBe(true)
        expect(await store.getClient('c1')).toEqual({
          ...stored('c1', 'alice'),
          secretHash: 'rotated-hash',
        })
        expect(await store.getClient('c2')).toEqual(stored('c2', 'alice'))
        expect(await store.updateClientSecret('nope', 'x')).toBe(false)
        expect(await store.getClient('nope')).toBeUndefined()
      })

      it('registers several clients in one step, or none of them when an id is taken', async () => {
        await store.createClients([client('c1', 'alice'), client('c2', 'bob', T0 + 1)])
        expect(await store.getClient('c1')).toEqual(stored('c1', 'alice'))
        expect(await store.getClient('c2')).toEqual(stored('c2', 'bob', T0 + 1))
        await expect(
          store.createClients([client('c3', 'carol'), client('c1', 'mallory')]),
        ).rejects.toMatchObject({ code: ErrorCode.CONFLICT })
        await expect(
          store.createClients([client('c4', 'carol'), client('c4', 'carol')]),
        ).rejects.toMatchObject({ code: ErrorCode.CONFLICT })
        expect(await store.getClient('c3')).toBeUndefined()
        expect(await store.getClient('c4')).toBeUndefined()
        expect((await store.getClient('c1'))?.userId).toBe('alice')
        await store.createClients([])
        const many = Array.from({ length: 500 }, (_, i) => client(`m${i}`, 'dave'))
        await store.createClients(many)
        expect(await store.countClientsOfUser('dave')).toBe(500)
      })

      it('forgets a client that said it is closing once it was not seen since', async () => {
        await store.createClient(client('gone', 'alice', T0))
        await store.createClient(client('back', 'alice', T0))
        await store.createClient(client('later', 'bob', T0))
        await store.createClient(client('open', 'bob', T0))
        await store.saveCursors(
          [
            { clientId: 'gone', stream: 'room:a', epoch: 'e', offset: 1 },
            { clientId: 'open', stream: 'room:a', epoch: 'e', offset: 1 },
          ],
          T0,
        )
        expect(await store.markClientClosing('gone', T0 + 10)).toBe(true)
        expect(await store.markClientClosing('back', T0 + 10)).toBe(true)
        expect(await store.markClientClosing('later', T0 + 30)).toBe(true)
        expect(await store.markClientClosing('nope', T0 + 10)).toBe(false)
        expect((await store.getClient('gone'))?.closingAt).toBe(T0 + 10)
        // Seen again after it said so: it came back.
        await store.touchClients(['back'], T0 + 20)

        expect(await store.forgetClosingClients(T0 + 9)).toEqual([])
        expect(await store.forgetClosingClients(T0 + 10)).toEqual([
          { id: 'gone', userId: expect.any(String) },
        ])
        expect(await store.getClient('gone')).toBeUndefined()
        expect(await store.getCursors('gone')).toEqual([])
        expect((await store.getCursorsOfStream('room:a')).map((c) => c.clientId)).toEqual(['open'])
        expect(await store.forgetClosingClients(T0 + 100)).toEqual([
          { id: 'later', userId: expect.any(String) },
        ])
        expect(await store.getClient('back')).toMatchObject({ closingAt: T0 + 10 })
        expect(await store.getClient('open')).toMatchObject({ closingAt: null })
      })

      it('counts clients by state: active, idle and closing', async () => {
        expect(await store.countClientsByState(T0)).toEqual({ active: 0, idle: 0, closing: 0 })
        await store.createClients([
          client('a1', 'alice', T0 + 10),
          client('a2', 'alice', T0 + 20),
          client('i1', 'bob', T0),
          client('x1', 'bob', T0),
          client('x2', 'carol', T0 + 20),
        ])
        await store.markClientClosing('x1', T0 + 5)
        await store.markClientClosing('x2', T0 + 30)
        // Closing, then seen again: counted by when it was last seen.
        await store.markClientClosing('a2', T0 + 15)
        expect(await store.countClientsByState(T0 + 10)).toEqual({
          active: 2,
          idle: 1,
          closing: 2,
        })
        expect(await store.countClientsByState(T0 + 21)).toEqual({
          active: 0,
          idle: 3,
          closing: 2,
        })
      })

      it('garbage-collects clients not seen since a time, with their cursors', async () => {
        await store.createClient(client('old1', 'alice', T0))
        await store.createClient(client('old2', 'bob', T0 + 10))
        await store.createClient(client('edge', 'bob', T0 + 20))
        await store.createClient(client('new', 'alice', T0 + 30))
        await store.saveCursors(
          [
            { clientId: 'old1', stream: 'room:a', epoch: 'e', offset: 1 },
            { clientId: 'new', stream: 'room:a', epoch: 'e', offset: 1 },
          ],
          T0,
        )
        expect((await store.gcClients(T0 + 20)).map((c) => c.id)).toEqual(['old1', 'old2'])
        expect(await store.getClient('old1')).toBeUndefined()
        expect(await store.getClient('old2')).toBeUndefined()
        expect(await store.getClient('edge')).toBeDefined()
        expect(await store.getClient('new')).toBeDefined()
        expect((await store.getCursorsOfStream('room:a')).map((c) => c.clientId)).toEqual(['new'])
        expect(await store.gcClients(T0 + 20)).toEqual([])
      })
    })

    describe('cursors', () => {
      beforeEach(async () => {
        await store.createClient(client('c1', 'alice'))
        await store.createClient(client('c2', 'bob'))
      })

      it('saves a cursor and moves it only forward within an epoch', async () => {
        await store.saveCursors([{ clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 5 }], T0)
        await store.saveCursors(
          [{ clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 3 }],
          T0 + 10,
        )
        expect(await store.getCursors('c1')).toEqual([
          { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 5, updatedAt: T0 },
        ])
        await store.saveCursors(
          [{ clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 8 }],
          T0 + 20,
        )
        expect(await store.getCursors('c1')).toEqual([
          { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 8, updatedAt: T0 + 20 },
        ])
      })

      it('replaces a cursor of another epoch even with a lower offset', async () => {
        await store.saveCursors([{ clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 50 }], T0)
        await store.saveCursors(
          [{ clientId: 'c1', stream: 'room:a', epoch: 'e2', offset: 2 }],
          T0 + 5,
        )
        expect(await store.getCursors('c1')).toEqual([
          { clientId: 'c1', stream: 'room:a', epoch: 'e2', offset: 2, updatedAt: T0 + 5 },
        ])
      })

      it('applies the entries of one call in order', async () => {
        await store.saveCursors(
          [
            { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 4 },
            { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 9 },
            { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 6 },
          ],
          T0,
        )
        expect((await store.getCursors('c1'))[0]?.offset).toBe(9)
      })

      it('ignores cursors of unknown clients', async () => {
        await store.saveCursors(
          [
            { clientId: 'ghost', stream: 'room:a', epoch: 'e1', offset: 1 },
            { clientId: 'c1', stream: 'room:a', epoch: 'e1', offset: 1 },
          ],
          T0,
        )
        expect(await store.getCursors('ghost')).toEqual([])
        expect((await store.getCursorsOfStream('room:a')).map((c) => c.clientId)).toEqual(['c1'])
      })

      it('lists cursors by client in stream order and by stream in client order', async () => {
        await store.saveCursors(
          [
            { clientId: 'c2', stream: 'room:b', epoch: 'e', offset: 1 },
            { clientId: 'c1', stream: 'room:b', epoch: 'e', offset: 2 },
            { clientId: 'c1', stream: 'room:a', epoch: 'e', offset: 3 },
          ],
          T0,
        )
        expect((await store.getCursors('c1')).map((c) => [c.stream, c.offset])).toEqual([
          ['room:a', 3],
          ['room:b', 2],
        ])
        expect(
          (await store.getCursorsOfStream('room:b')).map((c) => [c.clientId, c.offset]),
        ).toEqual([
          ['c1', 2],
          ['c2', 1],
        ])
        expect(await store.getCursors('nobody')).toEqual([])
      })
    })
  })
}
