import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { toPrincipal } from './authenticator.js'
import { devAuthenticate } from './dev-auth.js'

describe('devAuthenticate', () => {
  it('returns the token as the user id', async () => {
    await expect(devAuthenticate('alice')).resolves.toBe('alice')
    await expect(devAuthenticate('bob.smith@example.com')).resolves.toBe('bob.smith@example.com')
    await expect(devAuthenticate('u_1-2')).resolves.toBe('u_1-2')
    await expect(devAuthenticate('auth0|123')).resolves.toBe('auth0|123')
    await expect(devAuthenticate('bob+work@example.com')).resolves.toBe('bob+work@example.com')
  })

  it('accepts a token of 200 characters', async () => {
    await expect(devAuthenticate('a'.repeat(200))).resolves.toHaveLength(200)
  })

  it.each([
    ['an empty token', ''],
    ['a token of 201 characters', 'a'.repeat(201)],
    ['a token with a space', 'alice smith'],
    ['a token with a newline', 'alice\n'],
    ['a token with a NUL', 'alice\u0000'],
    ['a token with markup', '<b>alice</b>'],
    ['a token with non-ASCII letters', 'zoë'],
  ])('rejects %s with UNAUTHENTICATED', async (_name, token) => {
    const error = await devAuthenticate(token).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SeqlineError)
    expect((error as SeqlineError).code).toBe(ErrorCode.UNAUTHENTICATED)
  })
})

describe('toPrincipal', () => {
  it('wraps a user id in a principal without claims', () => {
    expect(toPrincipal('alice')).toEqual({ userId: 'alice', claims: {} })
  })

  it.each([
    ['a user id string', 'alice\r\nX-Injected: 1'],
    ['a principal', { userId: 'alice smith', claims: {} }],
  ])('rejects an invalid user id returned as %s with UNAUTHENTICATED', (_name, result) => {
    let error: unknown
    try {
      toPrincipal(result)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(SeqlineError)
    expect((error as SeqlineError).code).toBe(ErrorCode.UNAUTHENTICATED)
  })
})
