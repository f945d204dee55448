import type { Route } from '../route.js'
import { appendToStream } from './append-to-stream.js'
import { createStream } from './create-stream.js'
import type { DurableStreamsContext } from './durable-streams-context.js'
import { readStream } from './read-stream.js'
import { deleteStream, headStream } from './stream-metadata.js'

const PATH = '/v1/stream/*stream'

/**
 * The Durable Streams protocol under `/v1/stream/<name>` (DESIGN §6), on the engine's streams:
 * what one door writes the other reads, at the same offsets. Every request is authenticated and
 * authorised before the stream is even looked up, so a refused request learns nothing about it
 * (G8). Errors are the protocol's status codes with Seqline's JSON body `{error: {code, message}}`.
 */
export function durableStreamsRoutes(ds: DurableStreamsContext): Route[] {
  const route = (method: string, handle: Route['handle']): Route => ({
    methods: [method],
    path: PATH,
    auth: 'user-or-anonymous',
    cors: true,
    handle,
  })
  return [
    route('PUT', (ctx) => createStream(ctx, ds)),
    route('POST', (ctx) => appendToStream(ctx, ds)),
    route('GET', (ctx) => readStream(ctx, ds)),
    route('HEAD', (ctx) => headStream(ctx, ds)),
    route('DELETE', (ctx) => deleteStream(ctx, ds)),
  ]
}
