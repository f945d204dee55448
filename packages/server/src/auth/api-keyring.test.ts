import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir, type TempDir } from '../../../../test/support/temp-dir.js'
import { ApiKeyring } from './api-keyring.js'

const BILLING = 'billing-key-0123456789abcdefghijklmnop'
const CRM = 'crm+key/0123456789ABCDEFGHIJKLMNOP=='
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** The message of what `fn` throws. */
function thrown(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('expected an error')
}

describe('ApiKeyring', () => {
  let dir: TempDir

  beforeAll(async () => {
    dir = await createTempDir()
  })

  afterAll(() => dir.remove())

  it('verifies a Bearer key from a file of one key per line, and nothing else', () => {
    const keyring = ApiKeyring.parse(`# backend keys\n\n${BILLING}\n  ${CRM}  \n`, 'keys.txt')
    const billing = keyring.verify(`Bearer ${BILLING}`)
    expect(billing?.keyId).toBe(`key-${sha256(BILLING).slice(0, 8)}`)
    expect(keyring.verify(`bearer ${CRM}`)?.keyId).toBe(`key-${sha256(CRM).slice(0, 8)}`)
    expect(keyring.verify(CRM)?.keyId).toBe(`key-${sha256(CRM).slice(0, 8)}`)
    expect(keyring.verify(`Bearer ${BILLING}x`)).toBeUndefined()
    expect(keyring.verify(`Bearer ${BILLING.slice(0, -1)}`)).toBeUndefined()
    expect(keyring.verify('Bearer short')).toBeUndefined()
    expect(keyring.verify(`Bearer ${'k'.repeat(10_000)}`)).toBeUndefined()
    expect(keyring.verify('')).toBeUndefined()
    expect(keyring.verify(undefined)).toBeUndefined()
  })

  it('names keys by the ids of a JSON file, given as keys or as their SHA-256', () => {
    const json = JSON.stringify({
      keys: [
        { id: 'billing', key: BILLING },
        { id: 'crm', sha256: sha256(CRM) },
      ],
    })
    const keyring = ApiKeyring.parse(json, 'keys.json')
    expect(keyring.verify(`Bearer ${BILLING}`)).toEqual({ keyId: 'billing' })
    expect(keyring.verify(`Bearer ${CRM}`)).toEqual({ keyId: 'crm' })
    expect(keyring.ids).toEqual(['billing', 'crm'])
    expect(ApiKeyring.parse(JSON.stringify([{ id: 'a', key: BILLING }]), 'x').ids).toEqual(['a'])
  })

  it('loads SEQLINE_API_KEYS, keys separated by commas', () => {
    const keyring = ApiKeyring.load({ env: { SEQLINE_API_KEYS: `${BILLING}, ${CRM}` } })
    expect(keyring?.ids).toHaveLength(2)
    expect(keyring?.verify(`Bearer ${CRM}`)).toBeDefined()
  })

  it('loads --api-keys-file, and refuses it together with SEQLINE_API_KEYS', async () => {
    const file = dir.join('api-keys')
    await writeFile(file, `${BILLING}\n`)
    expect(ApiKeyring.load({ file, env: {} })?.verify(`Bearer ${BILLING}`)).toBeDefined()
    expect(() => ApiKeyring.load({ file, env: { SEQLINE_API_KEYS: CRM } })).toThrow(/set twice/)
    expect(() => ApiKeyring.load({ file: dir.join('missing'), env: {} })).toThrow(/Cannot read/)
    expect(ApiKeyring.load({ env: {} })).toBeUndefined()
  })

  it.each([
    ['a short key', `ok-line\n`, /line 1: an API key is at least 32 characters/],
    ['a key with a space', `${BILLING} ${CRM}`, /line 1: .*without spaces/],
    ['no key at all', '# nothing\n', /holds no API key/],
    ['a key listed twice', `${BILLING}\n${BILLING}`, /listed twice/],
    ['invalid JSON', `{"keys": [{"id": "a", "key": "${BILLING}"`, /not valid JSON/],
    [
      'an id used twice',
      JSON.stringify([
        { id: 'a', key: BILLING },
        { id: 'a', key: CRM },
      ]),
      /"a" is used twice/,
    ],
    ['a bad id', JSON.stringify([{ id: 'a b', key: BILLING }]), /"id" must be/],
    [
      'key and sha256 together',
      JSON.stringify([{ id: 'a', key: BILLING, sha256: sha256(BILLING) }]),
      /exactly one/,
    ],
    [
      'an unknown field',
      JSON.stringify([{ id: 'a', key: BILLING, secret: 'x' }]),
      /unknown field "secret"/,
    ],
    ['a malformed sha256', JSON.stringify([{ id: 'a', sha256: 'ABC' }]), /64 lower-case hex/],
  ])('refuses %s without showing any key', (_name, text, reason) => {
    const message = thrown(() => ApiKeyring.parse(text, 'keys'))
    expect(message).toMatch(reason)
    expect(message).not.toContain(BILLING)
    expect(message).not.toContain(CRM)
    expect(message).not.toContain('ok-line')
  })

  it('shows key ids only when logged or inspected', () => {
    const keyring = ApiKeyring.parse(JSON.stringify([{ id: 'billing', key: BILLING }]), 'x')
    for (const shown of [JSON.stringify({ keyring }), inspect(keyring), String(keyring)]) {
      expect(shown).toContain('billing')
      expect(shown).not.toContain(BILLING)
      expect(shown).not.toContain(sha256(BILLING))
    }
  })
})
