import { describe, expect, it } from 'vitest'
import { matchStreamPattern, parseStreamPattern, patternCovers } from './stream-pattern.js'

const p = parseStreamPattern

describe('matchStreamPattern', () => {
  it('captures one name segment per capture', () => {
    expect(matchStreamPattern(p('room:{name}'), 'room:general')).toEqual({ name: 'general' })
    expect(matchStreamPattern(p('dm:{a}:{b}'), 'dm:alice:bob')).toEqual({ a: 'alice', b: 'bob' })
    expect(matchStreamPattern(p('{id}-inbox'), 'bob-x-inbox')).toEqual({ id: 'bob-x' })
  })

  it('matches whole names only', () => {
    expect(matchStreamPattern(p('room:{name}'), 'room:general:archive')).toBeUndefined()
    expect(matchStreamPattern(p('room:{name}'), 'room:a/b')).toBeUndefined()
    expect(matchStreamPattern(p('room:{name}'), 'xroom:general')).toBeUndefined()
    expect(matchStreamPattern(p('room:{name}'), 'room:')).toBeUndefined()
    expect(matchStreamPattern(p('room.x'), 'roomax')).toBeUndefined()
  })

  it('matches any rest, separators included, with a trailing wildcard', () => {
    expect(matchStreamPattern(p('room:*'), 'room:a:b/c')).toEqual({})
    expect(matchStreamPattern(p('room:*'), 'room:')).toEqual({})
    expect(matchStreamPattern(p('*'), 'anything')).toEqual({})
    expect(matchStreamPattern(p('t:{t}/*'), 't:acme/x/y')).toEqual({ t: 'acme' })
  })

  it('never captures characters outside the stream-name alphabet', () => {
    expect(matchStreamPattern(p('user:{id}'), 'user:a|b')).toBeUndefined()
    expect(matchStreamPattern(p('user:*'), 'user:a\nb')).toBeUndefined()
  })

  it('keeps capture names off the object prototype', () => {
    const captures = matchStreamPattern(p('x:{constructor}'), 'x:y')
    expect(captures?.constructor).toBe('y')
    expect(Object.getPrototypeOf(captures)).toBeNull()
  })
})

describe('patternCovers', () => {
  it.each([
    ['*', 'room:{name}'],
    ['room:*', 'room:{name}'],
    ['room:*', 'room:general'],
    ['room:{name}', 'room:general'],
    ['room:{name}', 'room:{other}'],
    ['{a}:{b}', 'room:{name}'],
    ['room:*', 'room:*'],
    ['room:{name}*', 'room:{name}-x'],
  ])('finds that %s covers %s', (outer, inner) => {
    expect(patternCovers(p(outer), p(inner))).toBe(true)
  })

  it.each([
    ['room:{name}', 'room:*'],
    ['room:general', 'room:{name}'],
    ['room:{name}', 'room:a:b'],
    ['user:{id}', 'room:{name}'],
    ['room:{name}-x', 'room:{name}'],
    ['room:a*', 'room:*'],
  ])('finds that %s does not cover %s', (outer, inner) => {
    expect(patternCovers(p(outer), p(inner))).toBe(false)
  })
})
