import { writeFile } from 'node:fs/promises'
import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir, type TempDir } from '../../../../test/support/temp-dir.js'
import { createJwtAuthenticate } from './jwt-auth.js'
import { parseAuthOption } from './parse-auth-option.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const secretKey = new TextEncoder().encode(SECRET)
const nowSec = (): number => Math.floor(Date.now() / 1000)

function hs256(claims: Record<string, unknown>, key: Uint8Array = secretKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(key)
}

async function rejection(promise: Promise<unknown>): Promise<SeqlineError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(error).toBeInstanceOf(SeqlineError)
  return error as SeqlineError
}

describe('createJwtAuthenticate with an HS256 secret', () => {
  const authenticate = createJwtAuthenticate({ secret: SECRET })

  it('returns the sub claim of a valid token', async () => {
    const token = await hs256({ sub: 'alice', exp: nowSec() + 60 })
    await expect(authenticate(token)).resolves.toBe('alice')
  })

  it('rejects a token signed with another secret with a generic UNAUTHENTICATED', async () => {
    const token = await hs256({ sub: 'alice' }, new TextEncoder().encode('x'.repeat(32)))
    const error = await rejection(authenticate(token))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
    expect(error.message).toBe('Invalid or expired token')
  })

  it('rejects an expired token', async () => {
    const token = await hs256({ sub: 'alice', exp: nowSec() - 60 })
    const error = await rejection(authenticate(token))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
    expect(error.message).toBe('Invalid or expired token')
  })

  it('accepts a token expired within the clock tolerance', async () => {
    const token = await hs256({ sub: 'alice', exp: nowSec() - 2 })
    await expect(authenticate(token)).resolves.toBe('alice')
  })

  it('rejects garbage and an unsigned token', async () => {
    expect((await rejection(authenticate('not.a.jwt'))).code).toBe(ErrorCode.UNAUTHENTICATED)
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.`
    expect((await rejection(authenticate(unsigned))).code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('rejects a token without the user claim', async () => {
    const token = await hs256({ name: 'alice' })
    expect((await rejection(authenticate(token))).code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('reads the user id from a custom claim', async () => {
    const custom = createJwtAuthenticate({ secret: SECRET }, { userClaim: 'uid' })
    await expect(custom(await hs256({ sub: 'x', uid: 'bob' }))).resolves.toBe('bob')
  })

  it('checks the issuer and the audience when configured', async () => {
    const strict = createJwtAuthenticate(
      { secret: SECRET },
      { issuer: 'https://id.test', audience: 'seqline' },
    )
    const good = await hs256({ sub: 'alice', iss: 'https://id.test', aud: 'seqline' })
    await expect(strict(good)).resolves.toBe('alice')
    const wrongIssuer = await hs256({ sub: 'alice', iss: 'https://evil.test', aud: 'seqline' })
    expect((await rejection(strict(wrongIssuer))).code).toBe(ErrorCode.UNAUTHENTICATED)
    const wrongAudience = await hs256({ sub: 'alice', iss: 'https://id.test', aud: 'other' })
    expect((await rejection(strict(wrongAudience))).code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('refuses a secret shorter than 32 bytes at creation', () => {
    expect(() => createJwtAuthenticate({ secret: 'short' })).toThrow(/32 bytes/)
  })
})

describe('createJwtAuthenticate with a JWKS file', () => {
  let dir: TempDir
  let jwksFile: string
  let privateKey: CryptoKey
  let otherKey: CryptoKey

  beforeAll(async () => {
    dir = await createTempDir()
    const pair = await generateKeyPair('RS256')
    privateKey = pair.privateKey
    otherKey = (await generateKeyPair('RS256')).privateKey
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
    jwksFile = dir.join('jwks.json')
    await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }))
  })

  afterAll(() => dir.remove())

  const rs256 = (claims: Record<string, unknown>, key: CryptoKey): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuedAt().sign(key)

  it('returns the sub claim of a token signed with a key of the set', async () => {
    const authenticate = createJwtAuthenticate({ jwksFile })
    await expect(
      authenticate(await rs256({ sub: 'carol', exp: nowSec() + 60 }, privateKey)),
    ).resolves.toBe('carol')
  })

  it('rejects a token signed with a key outside the set', async () => {
    const authenticate = createJwtAuthenticate({ jwksFile })
    const error = await rejection(authenticate(await rs256({ sub: 'carol' }, otherKey)))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('rejects an HS256 token, which a set of public keys never accepts', async () => {
    const authenticate = createJwtAuthenticate({ jwksFile })
    const error = await rejection(authenticate(await hs256({ sub: 'carol' })))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('is selected by parseAuthOption for jwt:<path>.json', async () => {
    const authenticate = parseAuthOption(`jwt:${jwksFile}`)
    await expect(authenticate(await rs256({ sub: 'dave' }, privateKey))).resolves.toBe('dave')
  })

  it('fails at creation when the file does not exist or has no keys', async () => {
    expect(() => createJwtAuthenticate({ jwksFile: dir.join('missing.json') })).toThrow(
      /Cannot read JWKS file/,
    )
    const empty = dir.join('empty.json')
    await writeFile(empty, '{"keys":[]}')
    expect(() => createJwtAuthenticate({ jwksFile: empty })).toThrow(/no "keys"/)
    expect(() => parseAuthOption(`jwt:${dir.join('missing.json')}`)).toThrow(/not found/)
  })
})

describe('parseAuthOption', () => {
  it('uses an HS256 secret for jwt:<secret>', async () => {
    const authenticate = parseAuthOption(`jwt:${SECRET}`)
    await expect(authenticate(await hs256({ sub: 'erin' }))).resolves.toBe('erin')
  })

  it('rejects an unknown scheme without echoing its value', () => {
    expect(() => parseAuthOption('oauth:supersecret')).toThrow(/"oauth:…"/)
    expect(() => parseAuthOption('oauth:supersecret')).not.toThrow(/supersecret/)
  })
})
