import { describe, expect, it } from 'vitest'
import { jsonDepthExceeds } from './json-depth.js'

describe('jsonDepthExceeds', () => {
  it('counts nested arrays and objects', () => {
    expect(jsonDepthExceeds('[{"a":[1]}]', 3)).toBe(false)
    expect(jsonDepthExceeds('[{"a":[1]}]', 2)).toBe(true)
    expect(jsonDepthExceeds('1', 0)).toBe(false)
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonDepthExceeds('["[[[[", "\\"[[[["]', 1)).toBe(false)
  })

  it('answers for a value nested 100,000 deep without a stack overflow', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    expect(jsonDepthExceeds(deep, 64)).toBe(true)
  })
})
