import { describe, expect, it } from 'vitest'
import { Multimap } from './multimap.js'

describe('Multimap', () => {
  it('holds one value, then several, in insertion order, without duplicates', () => {
    const map = new Multimap<string, { id: number }>()
    const a = { id: 1 }
    const b = { id: 2 }
    const c = { id: 3 }
    map.add('k', a)
    map.add('k', a)
    expect(map.get('k')).toEqual([a])
    expect(map.count('k')).toBe(1)
    map.add('k', b)
    map.add('k', c)
    map.add('k', b)
    expect(map.get('k')).toEqual([a, b, c])
    expect(map.count('k')).toBe(3)
    expect(map.size).toBe(1)
  })

  it('drops a key with its last value, whether it held one or several', () => {
    const map = new Multimap<string, string>()
    map.add('one', 'x')
    map.delete('one', 'not there')
    expect(map.get('one')).toEqual(['x'])
    map.delete('one', 'x')
    expect(map.get('one')).toEqual([])
    expect(map.size).toBe(0)

    map.add('many', 'x')
    map.add('many', 'y')
    map.delete('many', 'x')
    expect(map.get('many')).toEqual(['y'])
    map.add('many', 'z')
    expect(map.get('many')).toEqual(['y', 'z'])
    map.delete('many', 'y')
    map.delete('many', 'z')
    expect(map.count('many')).toBe(0)
    expect(map.size).toBe(0)
  })

  it('gives copies: the map may change while the caller goes through them', () => {
    const map = new Multimap<string, number>()
    map.add('a', 1)
    map.add('a', 2)
    map.add('b', 3)
    const values = map.values()
    for (const v of map.get('a')) map.delete('a', v)
    expect(values).toEqual([1, 2, 3])
    expect(map.values()).toEqual([3])
  })
})
