import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signBody, verifySignature } from './hmac-signature.js'

const SECRET = 'a-signing-secret-of-32-characters!'
const BODY = '{"user":"alice","stream":"room:general","action":"read","claims":{}}'
const T = 1_767_225_600

describe('signBody', () => {
  it('signs t + "." + body with HMAC-SHA256 in hex', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex')
    expect(signBody(SECRET, BODY, T)).toBe(`t=${T},v1=${expected}`)
  })
})

describe('verifySignature', () => {
  const header = signBody(SECRET, BODY, T)

  it('accepts a signature within the tolerance of the clock', () => {
    expect(verifySignature(SECRET, header, BODY, { nowSec: T })).toBe(true)
    expect(verifySignature(SECRET, header, BODY, { nowSec: T + 300 })).toBe(true)
  })

  it('refuses an old or future signature, another body and another secret', () => {
    expect(verifySignature(SECRET, header, BODY, { nowSec: T + 301 })).toBe(false)
    expect(verifySignature(SECRET, header, BODY, { nowSec: T - 301 })).toBe(false)
    expect(verifySignature(SECRET, header, `${BODY} `, { nowSec: T })).toBe(false)
    expect(verifySignature(`${SECRET}x`, header, BODY, { nowSec: T })).toBe(false)
  })

  it('accepts one matching v1 among several, as during a secret rotation', () => {
    const other = signBody('the-previous-secret-of-32-characters', BODY, T).split(',')[1]
    expect(verifySignature(SECRET, `${header},${other}`, BODY, { nowSec: T })).toBe(true)
  })

  it.each([undefined, '', 'garbage', `v1=${'0'.repeat(64)}`, `t=${T}`, `t=${T},v1=zz`, `t=x,v1=`])(
    'refuses the malformed header %j',
    (malformed) => {
      expect(verifySignature(SECRET, malformed, BODY, { nowSec: T })).toBe(false)
    },
  )
})
