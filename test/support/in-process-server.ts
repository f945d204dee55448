import { type Authorize, allowAll } from '../../packages/server/src/auth/authenticator.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'

/** A Seqline server listening on 127.0.0.1 inside the test process. */
export interface InProcessServer {
  readonly server: SeqlineServer
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** `ws://127.0.0.1:<port>/v1/ws` */
  readonly wsUrl: string
  close(): Promise<void>
}

/** Options of {@link startInProcessServer}. */
export interface InProcessServerOptions {
  /** Default `dev` (the token is the user id). */
  readonly auth?: string
  readonly authorize?: Authorize
  /** Default `memory:`. */
  readonly store?: string
  readonly longPollTimeoutMs?: number
}

/**
 * Starts `createServer` on port 0 with a silent logger: for HTTP tests that need no process
 * boundary (those that kill the server use server-process.ts).
 *
 * @example
 * const s = await startInProcessServer({ authorize: (user, stream) => stream !== 'secret' })
 * onTestFinished(() => s.close())
 */
export async function startInProcessServer(
  options: InProcessServerOptions = {},
): Promise<InProcessServer> {
  const server = await createServer({
    store: options.store ?? 'memory:',
    auth: options.auth ?? 'dev',
    // Streams are created and deleted freely here: `manage` is tested where it is the subject.
    authorize: options.authorize ?? allowAll,
    logLevel: 'silent',
    limits: { publishRatePerSec: 100_000, publishBurst: 100_000 },
    durableStreams: { longPollTimeoutMs: options.longPollTimeoutMs ?? 2_000 },
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    close: () => server.close(),
  }
}
