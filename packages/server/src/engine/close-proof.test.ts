import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { checkCloseProof, closeProofMac, parseCloseProof } from './close-proof.js'

const SECRET = 'the-client-secret'
const HASH = createHash('sha256').update(SECRET).digest('hex')
const NOW = 1_800_000_000_000

/** The proof as the SDK computes it: HMAC keyed by the raw SHA-256 of the secret. */
function sdkProof(clientId: string, ts: number, secret = SECRET): string {
  const key = createHash('sha256').update(secret).digest()
  const mac = createHmac('sha256', key).update(`seqline-close:${clientId}:${ts}`).digest()
  return JSON.stringify({ ts, mac: mac.toString('base64url') })
}

describe('parseCloseProof', () => {
  it('reads ts and the 32 bytes of the MAC', () => {
    const proof = parseCloseProof(sdkProof('c_1', NOW))
    expect(proof.ts).toBe(NOW)
    expect(proof.mac).toHaveLength(32)
  })

  it('accepts the MAC with its base64 padding', () => {
    const { ts, mac } = JSON.parse(sdkProof('c_1', NOW)) as { ts: number; mac: string }
    expect(parseCloseProof(JSON.stringify({ ts, mac: `${mac}=` })).mac).toHaveLength(32)
  })

  it.each([
    ['not json', 'not valid JSON'],
    ['[1]', 'Expected a close proof'],
    ['{"mac":"x"}', '"ts" must be'],
    [`{"ts":"${NOW}","mac":"${'A'.repeat(43)}"}`, '"ts" must be'],
    [`{"ts":1.5,"mac":"${'A'.repeat(43)}"}`, '"ts" must be'],
    [`{"ts":${NOW},"mac":"${'A'.repeat(42)}"}`, '"mac" must be'],
    [`{"ts":${NOW},"mac":"${'A'.repeat(42)}+"}`, '"mac" must be'],
    [`{"ts":${NOW},"mac":7}`, '"mac" must be'],
  ])('refuses %s with BAD_REQUEST', (body, message) => {
    expect(() => parseCloseProof(body)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
    expect(() => parseCloseProof(body)).toThrow(message)
  })
})

describe('checkCloseProof', () => {
  const check = (body: string, clientId: string, hash: string | undefined, now = NOW) =>
    checkCloseProof(parseCloseProof(body), clientId, hash, now)

  it('accepts the proof the SDK computes, with the hash the server stores', () => {
    expect(check(sdkProof('c_1', NOW), 'c_1', HASH)).toBe('valid')
    expect(closeProofMac(HASH, 'c_1', NOW)).toEqual(parseCloseProof(sdkProof('c_1', NOW)).mac)
  })

  it('accepts a proof up to 120 s old and up to 30 s ahead', () => {
    expect(check(sdkProof('c_1', NOW - 120_000), 'c_1', HASH)).toBe('valid')
    expect(check(sdkProof('c_1', NOW + 30_000), 'c_1', HASH)).toBe('valid')
  })

  it('calls a proof outside that window stale, before looking at the MAC', () => {
    expect(check(sdkProof('c_1', NOW - 120_001), 'c_1', HASH)).toBe('stale')
    expect(check(sdkProof('c_1', NOW + 30_001), 'c_1', HASH)).toBe('stale')
    expect(check(sdkProof('c_1', NOW - 120_001), 'c_1', undefined)).toBe('stale')
  })

  it('refuses a proof made with another secret', () => {
    expect(check(sdkProof('c_1', NOW, 'another-secret'), 'c_1', HASH)).toBe('invalid')
  })

  it("refuses another client's proof, even with the same secret", () => {
    expect(check(sdkProof('c_2', NOW), 'c_1', HASH)).toBe('invalid')
  })

  it('refuses a proof whose ts was changed after signing', () => {
    const { mac } = JSON.parse(sdkProof('c_1', NOW)) as { mac: string }
    expect(check(JSON.stringify({ ts: NOW + 1, mac }), 'c_1', HASH)).toBe('invalid')
  })

  it('answers a client that does not exist as a wrong MAC', () => {
    expect(check(sdkProof('c_1', NOW), 'c_1', undefined)).toBe('invalid')
  })
})
