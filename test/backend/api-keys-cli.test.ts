import { writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess } from '../support/server-process.js'
import { createTempDir } from '../support/temp-dir.js'
import { BILLING_KEY, CRM_KEY } from './backend-api-server.js'

// Where `seqline serve` takes the backend API keys from: a file (`--api-keys-file`) or the
// environment (`SEQLINE_API_KEYS`), never the command line. Needs `npm run build`.

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(options: Parameters<typeof startServerProcess>[0]): Promise<ServerProcess> {
  const server = await startServerProcess(options)
  cleanups.push(() => server.dispose())
  return server
}

async function publishStatus(server: ServerProcess, key: string | undefined): Promise<number> {
  const res = await fetch(`${server.url}/v1/api/publish/room:a`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify({ data: { from: 'backend' } }),
  })
  await res.body?.cancel()
  return res.status
}

describe('seqline serve API keys', () => {
  it('takes the keys from --api-keys-file and logs their ids only', async () => {
    const dir = await createTempDir()
    cleanups.push(() => dir.remove())
    const file = dir.join('api-keys')
    await writeFile(file, `# the billing service\n${BILLING_KEY}\n`)
    const server = await serve({ args: ['--api-keys-file', file] })
    expect(await publishStatus(server, BILLING_KEY)).toBe(201)
    expect(await publishStatus(server, CRM_KEY)).toBe(401)
    expect(await publishStatus(server, undefined)).toBe(401)
    const started = server.logs.find((line) => line.includes('backend API on'))
    expect(started).toMatch(/"keyIds":\["key-[0-9a-f]{8}"\]/)
    expect(server.logs.join('\n')).not.toContain(BILLING_KEY)
  })

  it('takes the keys from SEQLINE_API_KEYS, comma-separated', async () => {
    const server = await serve({ env: { SEQLINE_API_KEYS: `${BILLING_KEY},${CRM_KEY}` } })
    expect(await publishStatus(server, BILLING_KEY)).toBe(201)
    expect(await publishStatus(server, CRM_KEY)).toBe(201)
    expect(await publishStatus(server, 'x'.repeat(40))).toBe(401)
  })

  it('refuses to start when both the file and the variable are set', async () => {
    const dir = await createTempDir()
    cleanups.push(() => dir.remove())
    const file = dir.join('api-keys')
    await writeFile(file, `${BILLING_KEY}\n`)
    await expect(
      serve({ args: ['--api-keys-file', file], env: { SEQLINE_API_KEYS: CRM_KEY } }),
    ).rejects.toThrow(/set twice/)
  })
})
