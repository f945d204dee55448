import { describe, expect, it } from 'vitest'
import { compilePermissions } from './permissions-authorize.js'
import { PermissionsFileError } from './permissions-file-error.js'

/** The error `compilePermissions` throws for `text`. */
function failure(text: string): PermissionsFileError {
  try {
    compilePermissions(text, 'perms.json')
  } catch (err) {
    expect(err).toBeInstanceOf(PermissionsFileError)
    return err as PermissionsFileError
  }
  throw new Error('expected the file to be refused')
}

/** `line:column: message` of every issue. */
const located = (issues: readonly { line: number; column: number; message: string }[]): string[] =>
  issues.map((i) => `${i.line}:${i.column}: ${i.message}`)

describe('parsePermissionPolicy', () => {
  it('reports a JSON syntax error with its line and column', () => {
    const error = failure(
      ['{', '  "rules": [', '    { "stream": "a", "allow": ["read"] },', '  ]', '}'].join('\n'),
    )
    expect(error.code).toBe('PERMISSIONS_FILE_INVALID')
    expect(error.message).toBe(
      'Invalid permissions file: perms.json:4:3: JSON syntax: unexpected "]"',
    )
  })

  it('reports an unterminated file at its end', () => {
    expect(failure('{"rules": [\n').issues).toEqual([
      { line: 2, column: 1, message: 'JSON syntax: unexpected end of the file' },
    ])
  })

  it('refuses a duplicate key, which JSON.parse would silently drop', () => {
    const text = [
      '{"rules": [',
      '  { "stream": "a", "allow": ["read"], "allow": ["manage"] }',
      ']}',
    ].join('\n')
    expect(located(failure(text).issues)).toEqual(['2:39: JSON syntax: duplicate key "allow"'])
  })

  it('reports an unknown action at the action', () => {
    const text = [
      '{',
      '  "rules": [',
      '    { "stream": "room:{name}", "allow": ["read", "pubish"] }',
      '  ]',
      '}',
    ].join('\n')
    expect(failure(text).message).toBe(
      'Invalid permissions file: perms.json:3:50: unknown action "pubish" (expected read, publish, signal, presence, manage or "*")',
    )
  })

  it.each([
    ['a character no stream name has', 'room:{name}!', 27, '"!" cannot appear in a stream name'],
    ['a wildcard before the end', 'room:*:x', 21, '"*" may only end a pattern'],
    ['an unclosed capture', 'room:{name', 21, '"{" without its "}"'],
    ['two captures side by side', 'dm:{a}{b}', 22, 'two captures side by side'],
    ['a capture used twice', 'dm:{a}:{a}', 23, 'capture {a} used twice'],
    ['a capture without a name', 'room:{}', 21, 'a capture is named with letters'],
    ['a leading separator', ':room', 16, 'a stream name starts with a letter or a digit'],
  ])('reports a bad pattern with %s at its character', (_name, pattern, column, reason) => {
    const text = `{"rules": [\n  { "stream": "${pattern}", "allow": ["read"] }\n]}`
    const [issue] = failure(text).issues
    expect(issue?.line).toBe(2)
    expect(issue?.column).toBe(column)
    expect(issue?.message).toContain(`bad stream pattern "${pattern}"`)
    expect(issue?.message).toContain(reason)
  })

  it('reports a condition on a capture the rule does not have', () => {
    const text = [
      '{"rules": [',
      '  { "stream": "room:{name}", "allow": ["publish"],',
      '    "when": [{ "claim": "rooms", "contains": "{room}" }] }',
      ']}',
    ].join('\n')
    expect(located(failure(text).issues)).toEqual([
      "3:47: unknown capture {room}: rule 1's stream pattern has {name}",
    ])
  })

  it('reports unknown keys, missing parts and malformed conditions, all at once', () => {
    const text = [
      '{"rulez": [], "rules": [',
      '  { "stream": "a", "alow": ["read"] },',
      '  { "allow": ["read"] },',
      '  { "stream": "b", "allow": ["read"], "deny": ["manage"] },',
      '  { "stream": "c", "allow": [] },',
      '  { "stream": "d", "allow": ["read"], "when": [{ "claim": "role" }] },',
      '  { "stream": "e", "allow": ["read"], "when": [{ "group": "x" }] },',
      '  { "stream": "f", "allow": ["read"], "when": [{ "user": "{id" }] },',
      '  "g"',
      ']}',
    ].join('\n')
    const error = failure(text)
    expect(located(error.issues)).toEqual([
      '1:2: unknown key "rulez" in the file (expected "description", "rules")',
      '2:20: unknown key "alow" in rule 1 (expected "description", "stream", "allow", "deny", "when")',
      '2:3: rule 1 needs "allow": [...] or "deny": [...]',
      '3:3: rule 2 needs "stream": a stream-name pattern',
      '4:39: rule 3 has both "allow" and "deny": split it in two',
      '5:29: "allow" must be a non-empty array of actions (read, publish, signal, presence, manage or "*")',
      '6:48: a "claim" condition needs exactly one of "equals" and "contains"',
      '7:48: a condition is {"user": "…"}, {"claim": "…", "equals": …} or {"claim": "…", "contains": …}',
      '8:59: "{" starts a capture reference such as {id}; "{id" has a malformed one',
      '9:3: rule 8 must be an object',
    ])
    expect(error.message).toMatch(
      /^Invalid permissions file \(10 problems\):\n {2}perms\.json:1:2: /,
    )
  })

  it('warns about a rule shadowed by an earlier rule without conditions', () => {
    const text = [
      '{"rules": [',
      '  { "stream": "room:*", "deny": ["publish", "manage"] },',
      '  { "stream": "room:{name}", "allow": ["publish"],',
      '    "when": [{ "claim": "rooms", "contains": "{name}" }] },',
      '  { "stream": "room:{name}", "allow": ["read", "manage"] }',
      ']}',
    ].join('\n')
    const { warnings } = compilePermissions(text, 'perms.json')
    expect(located(warnings)).toEqual([
      '3:3: rule 2 can never match: rule 1 (line 2) decides first for every stream and action it names',
      '5:3: rule 3 can never apply to "manage": rule 1 (line 2) decides first',
    ])
  })

  it('does not warn about a rule that an earlier conditional rule only sometimes decides', () => {
    const text = JSON.stringify({
      rules: [
        { stream: 'room:{name}', deny: ['publish'], when: [{ claim: 'muted', equals: true }] },
        { stream: 'room:{name}', allow: ['publish'] },
        { stream: 'room:lobby', allow: ['read'] },
        { stream: 'room:*', allow: ['read'] },
      ],
    })
    expect(compilePermissions(text, 'perms.json').warnings).toEqual([])
  })

  it('warns about a pattern that lacks a capture the conditions refer to', () => {
    const text = [
      '{"rules": [',
      '  { "stream": ["user:{id}", "inbox:*"], "allow": ["read"],',
      '    "when": [{ "user": "{id}" }] }',
      ']}',
    ].join('\n')
    expect(located(compilePermissions(text, 'perms.json').warnings)).toEqual([
      '2:29: rule 1 can never match pattern "inbox:*": its conditions refer to {id}, which this pattern does not capture',
    ])
  })

  it('warns that a file without rules denies everything', () => {
    const { warnings, authorize } = compilePermissions('{"rules": []}', 'perms.json')
    expect(located(warnings)).toEqual(['1:11: no rules: every request is denied'])
    expect(authorize('a', 'x', 'read', { claims: {} })).toBe(false)
  })
})
