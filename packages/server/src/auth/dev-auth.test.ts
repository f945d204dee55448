import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { devAuthenticate } from './dev-auth.js'

describe('devAuthenticate', () => {
  it('returns the token as the user id', async () => {
    await expect(devAuthenticate('alice')).resolves.toBe('alice')
    await expect(devAuthenticate('bob.smith@example.com')).resolves.toBe('bob.smith@example.com')
    await expect(devAuthenticate('u_1-2')).resolves.toBe('u_1-2')
  })

  it('accepts a token of 128 characters', async () => {
    await expect(devAuthenticate('a'.repeat(128))).resolves.toHaveLength(128)
  })

  it.each([
    ['an empty token', ''],
    ['a token of 129 characters', 'a'.repeat(129)],
    ['a token with a space', 'alice smith'],
    ['a token with a colon', 'user:alice'],
    ['a token with a slash', 'a/b'],
    ['a token with a newline', 'alice\n'],
    ['a token with non-ASCII letters', 'zoë'],
  ])('rejects %s with UNAUTHENTICATED', async (_name, token) => {
    const error = await devAuthenticate(token).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SeqlineError)
    expect((error as SeqlineError).code).toBe(ErrorCode.UNAUTHENTICATED)
  })
})
