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
/** A valid expiry: one minute from now. */
const soon = (): { exp: number } => ({ exp: nowSec() + 60 })

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

/** The user id an `Authenticate` result names. */
async function userOf(result: Promise<string | { userId: string }>): Promise<string> {
  const value = await result
  return typeof value === 'string' ? value : value.userId
}

describe('createJwtAuthenticate with an HS256 secret', () => {
  const authenticate = createJwtAuthenticate({ secret: SECRET })

  it('returns a principal with the sub claim, every claim and the expiry in ms', async () => {
    const exp = nowSec() + 60
    const token = await hs256({ sub: 'alice', exp, rooms: ['general'], role: 'admin' })
    const principal = await authenticate(token)
    expect(principal.userId).toBe('alice')
    expect(principal.claims).toMatchObject({ sub: 'alice', exp, rooms: ['general'], role: 'admin' })
    expect(principal.expiresAt).toBe(exp * 1000)
  })

  it('rejects a token signed with another secret with a generic UNAUTHENTICATED', async () => {
    const token = await hs256({ sub: 'alice', ...soon() }, new TextEncoder().encode('x'.repeat(32)))
    const error = await rejection(authenticate(token))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
    expect(error.message).toBe('Invalid or expired token')
  })

  it('rejects an expired token with TOKEN_EXPIRED, so that a client fetches a fresh one', async () => {
    const token = await hs256({ sub: 'alice', exp: nowSec() - 60 })
    const error = await rejection(authenticate(token))
    expect(error.code).toBe(ErrorCode.TOKEN_EXPIRED)
    expect(error.message).toBe('The token expired')
  })

  it('accepts a token expired within the clock tolerance', async () => {
    const token = await hs256({ sub: 'alice', exp: nowSec() - 2 })
    await expect(userOf(authenticate(token))).resolves.toBe('alice')
  })

  it('rejects a token without exp by default', async () => {
    const error = await rejection(authenticate(await hs256({ sub: 'alice' })))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
    expect(error.message).toBe('Invalid or expired token')
  })

  it('accepts a token without exp when requireExp is false, with no expiry', async () => {
    const lenient = createJwtAuthenticate({ secret: SECRET }, { requireExp: false })
    const principal = await lenient(await hs256({ sub: 'alice' }))
    expect(principal.userId).toBe('alice')
    expect(principal.expiresAt).toBeUndefined()
  })

  it('rejects garbage and an unsigned token', async () => {
    expect((await rejection(authenticate('not.a.jwt'))).code).toBe(ErrorCode.UNAUTHENTICATED)
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.`
    expect((await rejection(authenticate(unsigned))).code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('rejects a token without the user claim', async () => {
    const token = await hs256({ name: 'alice', ...soon() })
    expect((await rejection(authenticate(token))).code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it.each([
    ['an identity-provider subject with a pipe', 'auth0|5f7c8ec7c33c6c004bbafe82'],
    ['an e-mail address with a plus tag', 'bob+work@example.com'],
    ['a UUID', '0b7e0c53-96b5-4d0e-9a55-1d5b1c8e4b0f'],
    ['200 characters', 'u'.repeat(200)],
  ])('accepts a user id that is %s', async (_name, sub) => {
    await expect(userOf(authenticate(await hs256({ sub, ...soon() })))).resolves.toBe(sub)
  })

  it.each([
    ['empty', ''],
    ['201 characters long', 'u'.repeat(201)],
    ['holding a space', 'alice smith'],
    ['holding a newline', 'alice\nadmin'],
    ['holding a NUL', 'alice\u0000'],
    ['holding markup', '<img src=x onerror=alert(1)>'],
    ['not a string', 42],
  ])('rejects a token whose user id is %s', async (_name, sub) => {
    const error = await rejection(authenticate(await hs256({ sub, ...soon() })))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
    expect(error.message).toBe('Invalid or expired token')
  })

  it('reads the user id from a custom claim', async () => {
    const custom = createJwtAuthenticate({ secret: SECRET }, { userClaim: 'uid' })
    await expect(userOf(custom(await hs256({ sub: 'x', uid: 'bob', ...soon() })))).resolves.toBe(
      'bob',
    )
  })

  it('checks the issuer and the audience when configured', async () => {
    const strict = createJwtAuthenticate(
      { secret: SECRET },
      { issuer: 'https://id.test', audience: 'seqline' },
    )
    const good = await hs256({ sub: 'alice', iss: 'https://id.test', aud: 'seqline', ...soon() })
    await expect(userOf(strict(good))).resolves.toBe('alice')
    const wrongIssuer = await hs256({
      sub: 'alice',
      iss: 'https://evil.test',
      aud: 'seqline',
      ...soon(),
    })
    expect((await rejection(strict(wrongIssuer))).code).toBe(ErrorCode.UNAUTHENTICATED)
    const wrongAudience = await hs256({
      sub: 'alice',
      iss: 'https://id.test',
      aud: 'other',
      ...soon(),
    })
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
      userOf(authenticate(await rs256({ sub: 'carol', ...soon() }, privateKey))),
    ).resolves.toBe('carol')
  })

  it('rejects a token signed with a key outside the set', async () => {
    const authenticate = createJwtAuthenticate({ jwksFile })
    const error = await rejection(authenticate(await rs256({ sub: 'carol', ...soon() }, otherKey)))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('rejects an HS256 token, which a set of public keys never accepts', async () => {
    const authenticate = createJwtAuthenticate({ jwksFile })
    const error = await rejection(authenticate(await hs256({ sub: 'carol', ...soon() })))
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED)
  })

  it('is selected by parseAuthOption for jwt:<path>.json, even from the command line', async () => {
    const authenticate = parseAuthOption(`jwt:${jwksFile}`, {}, { origin: 'argv' })
    await expect(
      userOf(authenticate(await rs256({ sub: 'dave', ...soon() }, privateKey))),
    ).resolves.toBe('dave')
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
  let dir: TempDir

  beforeAll(async () => {
    dir = await createTempDir()
  })

  afterAll(() => dir.remove())

  it('uses an HS256 secret for jwt:<secret> given in code or in the environment', async () => {
    for (const origin of ['code', 'env'] as const) {
      const authenticate = parseAuthOption(`jwt:${SECRET}`, {}, { origin })
      await expect(userOf(authenticate(await hs256({ sub: 'erin', ...soon() })))).resolves.toBe(
        'erin',
      )
    }
  })

  it('refuses jwt:<secret> from the command line without echoing the secret', () => {
    const parse = (): unknown => parseAuthOption(`jwt:${SECRET}`, {}, { origin: 'argv' })
    expect(parse).toThrow(/jwt:file:<path-to-secret-file>/)
    expect(parse).toThrow(/SEQLINE_AUTH/)
    expect(parse).not.toThrow(SECRET)
  })

  it('reads the HS256 secret of jwt:file:<path>, without its trailing newline', async () => {
    const file = dir.join('jwt-secret')
    await writeFile(file, `${SECRET}\n`)
    const authenticate = parseAuthOption(`jwt:file:${file}`, {}, { origin: 'argv' })
    await expect(userOf(authenticate(await hs256({ sub: 'frank', ...soon() })))).resolves.toBe(
      'frank',
    )
  })

  it('fails at creation when the secret file is missing or empty', async () => {
    expect(() => parseAuthOption(`jwt:file:${dir.join('missing')}`)).toThrow(
      /Cannot read the JWT secret file/,
    )
    const empty = dir.join('empty-secret')
    await writeFile(empty, '\n')
    expect(() => parseAuthOption(`jwt:file:${empty}`)).toThrow(/is empty/)
  })

  it('passes the claims options on, requireExp included', async () => {
    const authenticate = parseAuthOption(`jwt:${SECRET}`, { requireExp: false })
    await expect(userOf(authenticate(await hs256({ sub: 'gina' })))).resolves.toBe('gina')
  })

  it('rejects an unknown scheme without echoing its value', () => {
    expect(() => parseAuthOption('oauth:supersecret')).toThrow(/"oauth:…"/)
    expect(() => parseAuthOption('oauth:supersecret')).not.toThrow(/supersecret/)
  })
})
