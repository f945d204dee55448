import { describe, expect, it } from 'vitest'
import { ErrorCode } from '@seqline/protocol'
import { joinJsonMessages, splitJsonMessages } from './json-messages.js'

const split = (text: string): string[] =>
  splitJsonMessages(Buffer.from(text)).map((m) => Buffer.from(m).toString('utf8'))

describe('splitJsonMessages', () => {
  it('flattens exactly one level of a top-level array (§9.1.2)', () => {
    expect(split('[{"a":1}, {"b":2}]')).toEqual(['{"a":1}', '{"b":2}'])
    expect(split('[[1,2], [3,4]]')).toEqual(['[1,2]', '[3,4]'])
    expect(split('[[[1,2,3]]]')).toEqual(['[[1,2,3]]'])
    expect(split(' {"event": "created"} ')).toEqual(['{"event": "created"}'])
    expect(split('[]')).toEqual([])
  })

  it('keeps each element’s text exactly, big numbers and tricky strings included', () => {
    expect(split('[12345678901234567890, "a,]}\\"[", {"k" : [1, {"x":"]"}]}]')).toEqual([
      '12345678901234567890',
      '"a,]}\\"["',
      '{"k" : [1, {"x":"]"}]}',
    ])
    expect(split('[\n  "é",\n  1e3\n]')).toEqual(['"é"', '1e3'])
  })

  it('rejects invalid JSON and invalid UTF-8 with BAD_REQUEST (§9.1.4)', () => {
    for (const bad of [
      Buffer.from('{ invalid json }'),
      Buffer.from('[1,]'),
      Buffer.from([0x22, 0xff, 0x22]),
    ]) {
      expect(() => splitJsonMessages(bad)).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_REQUEST }),
      )
    }
  })
})

describe('joinJsonMessages', () => {
  it('wraps messages in one JSON array (§9.1.5)', () => {
    const data = (text: string) => ({ data: Buffer.from(text) })
    expect(joinJsonMessages([]).toString()).toBe('[]')
    expect(joinJsonMessages([data('{"a":1}'), data('2')]).toString()).toBe('[{"a":1},2]')
  })
})
