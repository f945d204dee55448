import { writeFile } from 'node:fs/promises'
import type { Authorize } from '../../packages/server/src/auth/authenticator.js'
import { createLogger } from '../../packages/server/src/observability/logger.js'
import { type SeqlineServer, createServer } from '../../packages/server/src/server.js'
import { createTempDir } from '../support/temp-dir.js'

/** Two API keys, as a backend would hold them (the file gives them ids). */
export const BILLING_KEY = 'billing-key-0123456789-abcdefghijklmnopqrstuvwxyz'
export const CRM_KEY = 'crm-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF'

/** The keys file of {@link startBackendApiServer}: JSON with an id per key. */
export const KEYS_FILE_TEXT = JSON.stringify({
  keys: [
    { id: 'billing', key: BILLING_KEY },
    { id: 'crm', key: CRM_KEY },
  ],
})

/** An in-process server with the backend API on, and what it logged. */
export interface BackendApiServer {
  readonly server: SeqlineServer
  readonly url: string
  readonly wsUrl: string
  /** Every log line, parsed. */
  readonly logs: Record<string, unknown>[]
  /** The raw text of every log line. */
  readonly logText: () => string
  /** `fetch(url + path)` with `key` (default: the billing key) as `Authorization: Bearer`. */
  api(path: string, init?: RequestInit & { readonly key?: string | null }): Promise<Response>
  close(): Promise<void>
}

/**
 * Starts `createServer` on port 0 with the keys of {@link KEYS_FILE_TEXT} in a temp file
 * (`apiKeysFile`), dev auth, and a logger whose lines the test can read.
 *
 * @example
 * const s = await startBackendApiServer()
 * onTestFinished(() => s.close())
 * await s.api('/v1/api/publish/room:a', { method: 'POST', body: '{"data":1}' })
 */
export async function startBackendApiServer(
  options: { readonly authorize?: Authorize; readonly keys?: boolean } = {},
): Promise<BackendApiServer> {
  const dir = await createTempDir('seqline-api-')
  const keysFile = dir.join('api-keys.json')
  await writeFile(keysFile, KEYS_FILE_TEXT)
  const lines: string[] = []
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(line) },
  })
  const server = await createServer({
    store: 'memory:',
    auth: 'dev',
    logger,
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    ...(options.keys === false ? {} : { apiKeysFile: keysFile }),
    presence: { intervalMs: 0 },
  })
  const { port } = await server.listen(0, '127.0.0.1')
  const url = `http://127.0.0.1:${port}`
  return {
    server,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    },
    logText: () => lines.join(''),
    api: (path, init = {}) => {
      const { key = BILLING_KEY, ...rest } = init
      const headers = new Headers(rest.headers)
      if (key !== null) headers.set('authorization', `Bearer ${key}`)
      if (rest.body !== undefined) headers.set('content-type', 'application/json')
      return fetch(url + path, { ...rest, headers })
    },
    close: async () => {
      await server.close()
      await dir.remove()
    },
  }
}
