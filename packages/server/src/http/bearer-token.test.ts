import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { readBearerToken } from './bearer-token.js'

function request(
  method: string,
  url: string,
  headers: Record<string, string> = {},
): IncomingMessage {
  return { method, url, headers } as unknown as IncomingMessage
}

describe('readBearerToken', () => {
  it('reads the token of an Authorization: Bearer header', () => {
    expect(
      readBearerToken(request('POST', '/v1/clients', { authorization: 'Bearer abc.def' })),
    ).toBe('abc.def')
  })

  it('accepts the scheme in any case and extra spaces', () => {
    expect(readBearerToken(request('GET', '/', { authorization: 'bearer   tok ' }))).toBe('tok')
  })

  it('returns undefined for another scheme or a malformed header', () => {
    expect(readBearerToken(request('GET', '/', { authorization: 'Basic dXNlcjpwdw==' }))).toBe(
      undefined,
    )
    expect(readBearerToken(request('GET', '/', { authorization: 'Bearer' }))).toBe(undefined)
    expect(readBearerToken(request('GET', '/', { authorization: 'Bearer a b' }))).toBe(undefined)
  })

  it('does not fall back to the query when a malformed header is present', () => {
    const req = request('GET', '/?access_token=q', { authorization: 'Token x' })
    expect(readBearerToken(req)).toBe(undefined)
  })

  it('reads the access_token query parameter of a GET', () => {
    expect(readBearerToken(request('GET', '/v1/stream/a?live=sse&access_token=a%2Bb'))).toBe('a+b')
  })

  it('reads the seqline_token cookie of a GET', () => {
    const req = request('GET', '/v1/stream/a', { cookie: 'theme=dark; seqline_token=c%20d; x=1' })
    expect(readBearerToken(req)).toBe('c d')
  })

  it('prefers the header over the query and the query over the cookie', () => {
    const headers = { authorization: 'Bearer h', cookie: 'seqline_token=c' }
    expect(readBearerToken(request('GET', '/?access_token=q', headers))).toBe('h')
    expect(readBearerToken(request('GET', '/?access_token=q', { cookie: 'seqline_token=c' }))).toBe(
      'q',
    )
  })

  it('ignores the query and the cookie of a state-changing request by default', () => {
    const req = request('POST', '/v1/clients?access_token=q', { cookie: 'seqline_token=c' })
    expect(readBearerToken(req)).toBe(undefined)
    expect(readBearerToken(req, { allowQueryAndCookie: true })).toBe('q')
  })

  it('returns undefined when no token is present', () => {
    expect(readBearerToken(request('GET', '/v1/presence/a', { cookie: 'other=1' }))).toBe(undefined)
    expect(readBearerToken(request('GET', '/?access_token='))).toBe(undefined)
  })

  it('keeps a cookie value that is not valid percent-encoding as it is', () => {
    expect(readBearerToken(request('GET', '/', { cookie: 'seqline_token=%E0%A4%A' }))).toBe(
      '%E0%A4%A',
    )
  })
})
