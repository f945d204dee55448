import fc from 'fast-check'

// Generators of hostile WebSocket frames for the fuzz suite: valid frames of every type with fields
// replaced by arbitrary JSON, extra keys, truncated JSON, raw text, JSON that is not an object,
// oversize payloads and binary frames. Streams are mostly a small fixed set, so that publishes
// pile up on a few streams whose offsets are checked afterwards.

/** Streams valid publishes land on; checked for gapless offsets after the run. */
export const FUZZ_STREAMS = ['fuzz:a', 'fuzz:b', 'room:fuzz'] as const

/**
 * One frame to send: a text frame, a binary one, or a well-formed publish whose producer seq the
 * connection fills in (random seqs are almost never the next one, and appends must be exercised).
 */
export type FuzzFrame =
  | { readonly text: string }
  | { readonly binary: Uint8Array }
  | { readonly nextPub: { readonly stream: string; readonly data: unknown } }

const anyJson = fc.jsonValue({ maxDepth: 3 })

const streamName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FUZZ_STREAMS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 190, maxLength: 230 }) },
  { weight: 1, arbitrary: anyJson },
)

const numberish = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 50 }) },
  { weight: 2, arbitrary: fc.integer() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      -1,
      0.5,
      Number.MAX_SAFE_INTEGER,
      2 ** 53 + 2,
      1e308,
      -0,
      '1',
      '',
      null,
      true,
    ),
  },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: anyJson },
)

// Mostly 'latest': a replay from 'earliest' of a stream the fuzzer keeps growing costs O(head),
// and a long run would spend its time replaying instead of fuzzing.
const position = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('latest', 'now', '-1') },
  { weight: 1, arbitrary: fc.constant('earliest') },
  {
    weight: 2,
    arbitrary: fc.record({
      epoch: fc.oneof(fc.string({ maxLength: 30 }), anyJson),
      offset: numberish,
    }),
  },
  { weight: 2, arbitrary: anyJson },
)

const data = fc.oneof(
  { weight: 8, arbitrary: anyJson },
  // Above the fuzz server's 4 KiB payload limit: PAYLOAD_TOO_LARGE, never a crash.
  { weight: 1, arbitrary: fc.integer({ min: 4_000, max: 20_000 }).map((n) => 'x'.repeat(n)) },
)

const withOptional = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T) =>
  fc.record(model, { requiredKeys: ['t'] as never[] })

/** Frames of every type whose fields are arbitrary (often valid, often not). */
export const typedFrame = fc.oneof(
  withOptional({ t: fc.constant('sub'), stream: streamName, from: position }),
  withOptional({ t: fc.constant('unsub'), stream: streamName }),
  withOptional({
    t: fc.constant('pub'),
    stream: streamName,
    epoch: numberish,
    seq: numberish,
    data,
  }),
  withOptional({ t: fc.constant('ack'), stream: streamName, offset: numberish }),
  withOptional({ t: fc.constant('signal'), stream: streamName, data }),
  withOptional({
    t: fc.constant('hello'),
    token: anyJson,
    clientId: anyJson,
    secret: anyJson,
    takeover: anyJson,
    resume: anyJson,
  }),
  fc.constant({ t: 'ping' }),
  withOptional({ t: fc.oneof(fc.string({ maxLength: 10 }), anyJson) }),
)

/** A typed frame with extra keys mixed in (they may even replace `t`). */
const mutatedFrame = fc
  .tuple(typedFrame, fc.dictionary(fc.string({ maxLength: 6 }), anyJson, { maxKeys: 3 }))
  .map(([frame, extra]) => ({ ...extra, ...frame }))

/** One hostile frame. */
export const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  { weight: 10, arbitrary: mutatedFrame.map((f) => ({ text: JSON.stringify(f) })) },
  { weight: 2, arbitrary: anyJson.map((v) => ({ text: JSON.stringify(v) ?? 'undefined' })) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })) },
  {
    weight: 2,
    arbitrary: fc.tuple(mutatedFrame, fc.nat()).map(([f, cut]) => {
      const text = JSON.stringify(f)
      return { text: text.slice(0, cut % (text.length + 1)) }
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((binary) => ({ binary })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ stream: fc.constantFrom(...FUZZ_STREAMS), data: anyJson })
      .map((nextPub) => ({ nextPub })),
  },
)

/** A case: a few frames sent back to back on one connection. */
export const fuzzCase = fc.array(fuzzFrame, { minLength: 1, maxLength: 6 })
