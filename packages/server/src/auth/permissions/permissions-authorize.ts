import { readFileSync } from 'node:fs'
import type { Authorize } from '../authenticator.js'
import type { PermissionPolicy, PermissionRule } from './permission-policy.js'
import { parsePermissionPolicy } from './permission-policy.js'
import type { ConditionValue, PermissionCondition } from './rule-condition.js'
import type { PermissionsIssue } from './permissions-file-error.js'
import { findShadowedRules } from './shadowed-rules.js'
import { matchStreamPattern } from './stream-pattern.js'

/** A permissions file ready to use. */
export interface Permissions {
  readonly policy: PermissionPolicy
  /** The policy as the server's `authorize` hook. */
  readonly authorize: Authorize
  /** Rules that can never match and other oddities, to log at start. */
  readonly warnings: readonly PermissionsIssue[]
}

/**
 * Reads, checks and compiles a permissions file (`seqline serve --permissions FILE`, the
 * `permissions` option of `createServer`). Throws `PermissionsFileError` (every problem with its
 * line and column) when the file is malformed, an `Error` when it cannot be read.
 *
 * @example
 * const { authorize, warnings } = loadPermissionsFile('./permissions.json')
 * for (const w of warnings) console.warn(`permissions.json:${w.line}:${w.column}: ${w.message}`)
 */
export function loadPermissionsFile(path: string): Permissions {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new Error(`Cannot read the permissions file ${path}`, { cause })
  }
  return compilePermissions(text, path)
}

/** {@link loadPermissionsFile} for text at hand; `file` names it in messages. */
export function compilePermissions(text: string, file: string): Permissions {
  const { policy, warnings } = parsePermissionPolicy(text, file)
  const all = [...warnings, ...findShadowedRules(policy)].sort(
    (a, b) => a.line - b.line || a.column - b.column,
  )
  return { policy, authorize: createPermissionsAuthorize(policy), warnings: all }
}

/**
 * The `Authorize` of a policy: the first rule whose pattern matches the stream, whose actions
 * include the one asked and whose conditions all hold decides; without one, the answer is deny.
 * Synchronous and allocation-light: it runs on every subscribe, publish and HTTP request.
 */
export function createPermissionsAuthorize(policy: PermissionPolicy): Authorize {
  const rules = policy.rules
  return (userId, stream, action, { claims }) => {
    for (const rule of rules) {
      if (!rule.actions.has(action)) continue
      if (ruleApplies(rule, userId, stream, claims)) return rule.effect === 'allow'
    }
    return false
  }
}

function ruleApplies(
  rule: PermissionRule,
  userId: string,
  stream: string,
  claims: Readonly<Record<string, unknown>>,
): boolean {
  for (const { pattern, live } of rule.patterns) {
    if (!live) continue
    const captures = matchStreamPattern(pattern, stream)
    if (captures === undefined) continue
    if (rule.conditions.every((c) => holds(c, userId, claims, captures))) return true
  }
  return false
}

function holds(
  condition: PermissionCondition,
  userId: string,
  claims: Readonly<Record<string, unknown>>,
  captures: Readonly<Record<string, string>>,
): boolean {
  const expected = valueOf(condition.value, captures)
  if (condition.kind === 'user') return userId === expected
  const claim = claimAt(claims, condition.path)
  if (condition.test === 'equals') return claim === expected
  return Array.isArray(claim) && claim.includes(expected)
}

function valueOf(
  value: ConditionValue,
  captures: Readonly<Record<string, string>>,
): string | number | boolean | null {
  if (value.kind === 'literal') return value.value
  let out = ''
  for (const part of value.parts)
    out += part.kind === 'text' ? part.text : (captures[part.name] ?? '')
  return out
}

/**
 * The claim at `path`, or `undefined`. Own properties only: a claim named `constructor` or
 * `__proto__` must not reach into Object.prototype.
 */
function claimAt(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let node: unknown = claims
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined
    if (!Object.hasOwn(node, key)) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}
