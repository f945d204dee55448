import * as v from 'valibot'
import { STREAM_NAME_PATTERN } from './stream-name.js'

// Schemas of every client → server frame of wire protocol v1 (DESIGN §5). Parsing and validation
// live in `parse-frame.ts`; these only describe shapes.

const nonNegativeInt = v.pipe(v.number(), v.safeInteger(), v.minValue(0))
const streamName = v.pipe(v.string(), v.regex(STREAM_NAME_PATTERN, 'invalid stream name'))
// An empty epoch names no history yet: the position of a subscriber of a stream not created yet.
const epochId = v.pipe(v.string(), v.maxLength(64))

const positionSchema = v.strictObject({ epoch: epochId, offset: nonNegativeInt })

const helloSchema = v.object({
  t: v.literal('hello'),
  token: v.pipe(v.string(), v.maxLength(8192)),
  clientId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  secret: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** The connection id this client object held last; lets a reconnect take over its own slot. */
  takeover: v.optional(v.pipe(v.string(), v.maxLength(128))),
  /**
   * What to do when `clientId` already has its maximum of live connections and `takeover` does not
   * name one of them: `'fresh'` registers a new client for this user (a duplicated browser tab),
   * `'reject'` (default) fails with TOO_MANY_CONNECTIONS.
   */
  onInUse: v.optional(v.picklist(['fresh', 'reject'])),
  resume: v.optional(
    v.pipe(
      v.array(v.strictObject({ stream: streamName, epoch: epochId, offset: nonNegativeInt })),
      v.maxLength(1000),
    ),
  ),
})

const subSchema = v.object({
  t: v.literal('sub'),
  stream: streamName,
  from: v.optional(v.union([v.literal('latest'), v.literal('earliest'), positionSchema])),
})

const unsubSchema = v.object({ t: v.literal('unsub'), stream: streamName })

const pubSchema = v.object({
  t: v.literal('pub'),
  stream: streamName,
  /** Producer epoch (not the stream epoch). */
  epoch: nonNegativeInt,
  seq: nonNegativeInt,
  data: v.unknown(),
})

const ackSchema = v.object({ t: v.literal('ack'), stream: streamName, offset: nonNegativeInt })

const signalSchema = v.object({ t: v.literal('signal'), stream: streamName, data: v.unknown() })

const pingSchema = v.object({ t: v.literal('ping') })

/** A fresh user token for an open connection (before the previous one expires). */
const authSchema = v.object({ t: v.literal('auth'), token: v.pipe(v.string(), v.maxLength(8192)) })

/** Schema of each client frame, keyed by its `t`. */
export const clientFrameSchemas = {
  hello: helloSchema,
  sub: subSchema,
  unsub: unsubSchema,
  pub: pubSchema,
  ack: ackSchema,
  signal: signalSchema,
  ping: pingSchema,
  auth: authSchema,
} as const

export type ClientFrameType = keyof typeof clientFrameSchemas

export type HelloFrame = v.InferOutput<typeof helloSchema>
export type SubFrame = v.InferOutput<typeof subSchema>
export type UnsubFrame = v.InferOutput<typeof unsubSchema>
export type PubFrame = v.InferOutput<typeof pubSchema>
export type AckFrame = v.InferOutput<typeof ackSchema>
export type ClientSignalFrame = v.InferOutput<typeof signalSchema>
export type PingFrame = v.InferOutput<typeof pingSchema>
export type AuthFrame = v.InferOutput<typeof authSchema>

/** Every frame a client may send. */
export type ClientFrame =
  | HelloFrame
  | SubFrame
  | UnsubFrame
  | PubFrame
  | AckFrame
  | ClientSignalFrame
  | PingFrame
  | AuthFrame
