import { describe, expect, it } from 'vitest'
import { type JsonNode, JsonSyntaxError, parseLocatedJson, positionAt } from './located-json.js'

/** The plain value of a node, to compare with JSON.parse. */
function plain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object':
      return Object.fromEntries(node.entries.map((e) => [e.key, plain(e.value)]))
    case 'array':
      return node.items.map(plain)
    case 'null':
      return null
    default:
      return node.value
  }
}

describe('parseLocatedJson', () => {
  it.each([
    '{}',
    '[]',
    ' {"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9\\"\\\\\\/"]}\r\n',
    '"only a string"',
    '0',
    '{"nested": {"deeper": [[{}]]}}',
  ])('reads %s as JSON.parse does', (text) => {
    expect(plain(parseLocatedJson(text))).toEqual(JSON.parse(text))
  })

  it.each(['', '{', '{"a" 1}', '{"a": 1,}', '[1 2]', '01', '"\\x"', '"tab\there"', 'nul', '{} {}'])(
    'refuses %j, as JSON.parse does',
    (text) => {
      expect(() => JSON.parse(text)).toThrow()
      expect(() => parseLocatedJson(text)).toThrow(JsonSyntaxError)
    },
  )

  it('skips a byte order mark', () => {
    expect(plain(parseLocatedJson('\ufeff{"a": 1}'))).toEqual({ a: 1 })
  })

  it('records where each value and key starts', () => {
    const text = '{\n  "rules": [\n    {"x": 1}\n  ]\n}'
    const root = parseLocatedJson(text)
    if (root.kind !== 'object') throw new Error('expected an object')
    const rules = root.entries[0]
    expect(positionAt(text, rules?.keyOffset ?? -1)).toEqual({ line: 2, column: 3 })
    if (rules?.value.kind !== 'array') throw new Error('expected an array')
    expect(positionAt(text, rules.value.items[0]?.offset ?? -1)).toEqual({ line: 3, column: 5 })
  })

  it('refuses nesting deeper than 64 levels', () => {
    expect(() => parseLocatedJson('['.repeat(100) + ']'.repeat(100))).toThrow(/deeper than 64/)
  })
})
