import { describe, expect, it } from 'vitest'
import { encodeOffset, parseOffset, resolveOffset } from './offset-token.js'

const stream = { epoch: 'kq9x1zr7ab', head: 12, tail: 5 }

describe('encodeOffset', () => {
  it('pads both parts so that tokens sort as the offsets do', () => {
    expect(encodeOffset('kq9x1zr7ab', 12)).toBe('000000kq9x1zr7ab_0000000000000012')
    const tokens = [9, 10, 100, 2].map((n) => encodeOffset('kq9x1zr7ab', n))
    expect([...tokens].sort()).toEqual([2, 9, 10, 100].map((n) => encodeOffset('kq9x1zr7ab', n)))
  })

  it('never contains a character that needs escaping in a query', () => {
    expect(encodeOffset('zzzzzzzzzz', Number.MAX_SAFE_INTEGER)).toMatch(/^[0-9a-z_]+$/)
  })
})

describe('parseOffset', () => {
  it('recognises the sentinels and round-trips a token', () => {
    expect(parseOffset('-1')).toEqual({ kind: 'start' })
    expect(parseOffset('now')).toEqual({ kind: 'now' })
    expect(parseOffset(encodeOffset('kq9x1zr7ab', 7))).toEqual({
      kind: 'position',
      epoch: '000000kq9x1zr7ab',
      offset: 7,
    })
  })

  it('rejects malformed values', () => {
    for (const bad of [
      '',
      '0,1',
      '0 1',
      '-2',
      'NOW',
      '12',
      'abc_12',
      '000000KQ9X1ZR7AB_0000000000000012',
    ]) {
      expect(parseOffset(bad)).toBeUndefined()
    }
  })
})

describe('resolveOffset', () => {
  const at = (n: number, epoch = stream.epoch) =>
    parseOffset(encodeOffset(epoch, n)) ?? { kind: 'start' as const }

  it('maps sentinels to the start and the head', () => {
    expect(resolveOffset({ kind: 'start' }, stream)).toEqual({ kind: 'ok', position: 0 })
    expect(resolveOffset({ kind: 'now' }, stream)).toEqual({ kind: 'ok', position: 12 })
  })

  it('accepts positions from tail - 1 to the head of the same epoch', () => {
    expect(resolveOffset(at(4), stream)).toEqual({ kind: 'ok', position: 4 })
    expect(resolveOffset(at(12), stream)).toEqual({ kind: 'ok', position: 12 })
  })

  it('answers gone below the tail and for another epoch, beyond past the head', () => {
    expect(resolveOffset(at(3), stream)).toEqual({ kind: 'gone' })
    expect(resolveOffset(at(4, 'otherepoch'), stream)).toEqual({ kind: 'gone' })
    expect(resolveOffset(at(13), stream)).toEqual({ kind: 'beyond' })
  })

  it('takes the all-zero token as the start', () => {
    expect(
      resolveOffset(parseOffset('0000000000000000_0000000000000000') ?? { kind: 'now' }, stream),
    ).toEqual({
      kind: 'ok',
      position: 0,
    })
  })

  it('answers gone for position 0 of the stream’s epoch once retention trimmed past it', () => {
    expect(resolveOffset(at(0), stream)).toEqual({ kind: 'gone' })
    expect(resolveOffset(at(0), { ...stream, tail: 1 })).toEqual({ kind: 'ok', position: 0 })
  })
})
