import { describe, expect, it } from 'vitest'
import { resolveSettings } from '../settings/resolve-settings.js'
import type { StreamRecord } from '../store/store.js'
import { RetentionPolicies, checkRetentionRules, parseRetentionRules } from './retention-rules.js'

const WEEK = 604_800_000

function stream(name: string, retention: StreamRecord['retention'] = null) {
  return { name, retention }
}

describe('parseRetentionRules', () => {
  it('parses rules separated by semicolons with comma-separated options', () => {
    expect(
      parseRetentionRules(`user:*=until-acked,max-age-ms=${WEEK}; log:*=max-count=100000`),
    ).toEqual([
      { streams: 'user:*', untilAcked: true, maxAgeMs: WEEK },
      { streams: 'log:*', maxCount: 100_000 },
    ])
  })

  it('reads 0 as "no such limit", overriding the default', () => {
    expect(parseRetentionRules('audit:*=max-age-ms=0')).toEqual([
      { streams: 'audit:*', maxAgeMs: null },
    ])
  })

  it('ignores empty rules', () => {
    expect(parseRetentionRules(' ; ')).toEqual([])
  })

  it.each([
    ['user:*', 'expected <pattern>=<option>'],
    ['=until-acked', 'expected <pattern>=<option>'],
    ['user:*=', 'unknown option ""'],
    ['user:*=until-acked,max-cnt=5', 'unknown option "max-cnt=5"'],
    ['user:*=until-acked=yes', '"until-acked" takes no value'],
    ['user:*=max-count=-1', '"max-count" needs an integer'],
    ['user:*=max-count=1.5', '"max-count" needs an integer'],
    ['user:*=max-age-ms', '"max-age-ms" needs an integer'],
    ['user:*=max-age-ms=999999999999999999', '"max-age-ms" needs an integer'],
    ['user:*=max-count=1,max-count=2', '"max-count" is given twice'],
    ['user:*=max-count=1=2', 'more than one "="'],
    ['us er:*=until-acked', 'the pattern must be'],
    ['a=until-acked;a=max-count=1', 'the pattern is given twice'],
  ])('refuses "%s" naming the problem', (text, problem) => {
    expect(() => parseRetentionRules(text)).toThrow(problem)
  })

  it('refuses a bad rule given in code with the same checks', () => {
    expect(() => checkRetentionRules([{ streams: 'a:*' }])).toThrow('it sets nothing')
    expect(() => checkRetentionRules([{ streams: 'a:*', maxCount: 0 }])).toThrow(
      'maxCount must be null (no limit) or an integer',
    )
    expect(() =>
      resolveSettings({ retention: { rules: [{ streams: 'a b', untilAcked: true }] } }),
    ).toThrow('Invalid value for retention.rules')
  })
})

describe('RetentionPolicies', () => {
  const defaults = { maxAgeMs: WEEK, maxCount: 1_000 }
  const policies = new RetentionPolicies(
    parseRetentionRules(
      'user:*=until-acked,max-age-ms=60000;log:*=max-count=10,max-age-ms=0;*:x=until-acked',
    ),
    defaults,
  )

  it('applies the first matching rule over the default', () => {
    expect(policies.of(stream('user:alice'))).toEqual({
      policy: { untilAcked: true, maxAgeMs: 60_000, maxCount: 1_000 },
      source: { kind: 'rule', streams: 'user:*' },
    })
    expect(policies.of(stream('user:x')).source).toEqual({ kind: 'rule', streams: 'user:*' })
  })

  it('drops a default limit the rule sets to none', () => {
    expect(policies.of(stream('log:a')).policy).toEqual({ maxCount: 10 })
  })

  it('applies the default to a stream no rule matches', () => {
    expect(policies.of(stream('room:a'))).toEqual({ policy: defaults, source: { kind: 'default' } })
  })

  it("lets a stream's own policy win over every rule", () => {
    expect(policies.of(stream('user:alice', { maxCount: 3 }))).toEqual({
      policy: { maxCount: 3 },
      source: { kind: 'stream' },
    })
  })

  it('matches * against any characters, the whole name only', () => {
    expect(policies.of(stream('room:x')).source).toEqual({ kind: 'rule', streams: '*:x' })
    expect(policies.of(stream('room:xy')).source).toEqual({ kind: 'default' })
    expect(policies.of(stream('a.user:b')).source).toEqual({ kind: 'default' })
  })

  it('names every policy source once, for the metrics', () => {
    expect(policies.sourceLabels).toEqual(['stream', 'user:*', 'log:*', '*:x', 'default'])
  })
})
