import type { JsonEntry, JsonNode } from './located-json.js'
import { type IssueList, checkKeys, entry } from './issue-list.js'

// The `when` conditions of a permission rule: on the user id and on the token's claims, with
// references to the captures of the rule's stream pattern.

/** A piece of a condition's string: text, or the value of a capture of the stream pattern. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'capture'; readonly name: string }

/** What a condition compares with: a string with capture references, or a JSON literal. */
export type ConditionValue =
  | { readonly kind: 'template'; readonly parts: readonly TemplatePart[] }
  | { readonly kind: 'literal'; readonly value: number | boolean | null }

/** One condition of a rule's `when`. */
export type PermissionCondition =
  /** `{"user": "{id}"}`: the user id equals the value. */
  | { readonly kind: 'user'; readonly value: ConditionValue }
  /**
   * `{"claim": "role", "equals": "admin"}`: the claim equals the value;
   * `{"claim": "rooms", "contains": "{name}"}`: the claim is an array holding the value. A
   * claim is named by its top-level key (dots included, as in namespaced claims such as
   * `https://acme.test/rooms`) or by a path `["realm_access", "roles"]`.
   */
  | {
      readonly kind: 'claim'
      readonly path: readonly string[]
      readonly test: 'equals' | 'contains'
      readonly value: ConditionValue
    }

/**
 * Parses one condition of a rule's `when`, recording the capture references it makes (with
 * their offsets) in `referenced`. Reports problems to `issues` and returns `undefined` then.
 */
export function parseCondition(
  node: JsonNode,
  issues: IssueList,
  referenced: Map<string, number>,
): PermissionCondition | undefined {
  const shape =
    'a condition is {"user": "…"}, {"claim": "…", "equals": …} or {"claim": "…", "contains": …}'
  if (node.kind !== 'object') {
    issues.error(node.offset, shape)
    return undefined
  }
  const user = entry(node, 'user')
  const claim = entry(node, 'claim')
  if (user !== undefined) {
    checkKeys(node.entries, new Set(['user']), issues, 'a "user" condition')
    if (user.value.kind !== 'string') {
      issues.error(user.value.offset, '"user" must be a string, e.g. "{id}"')
      return undefined
    }
    const value = parseTemplate(user.value, issues, referenced)
    return value === undefined ? undefined : { kind: 'user', value }
  }
  if (claim === undefined) {
    issues.error(node.offset, shape)
    return undefined
  }
  checkKeys(node.entries, new Set(['claim', 'equals', 'contains']), issues, 'a "claim" condition')
  const path = parseClaimPath(claim.value, issues)
  const equals = entry(node, 'equals')
  const contains = entry(node, 'contains')
  if ((equals === undefined) === (contains === undefined)) {
    issues.error(node.offset, 'a "claim" condition needs exactly one of "equals" and "contains"')
    return undefined
  }
  const test = equals === undefined ? 'contains' : 'equals'
  const valueNode = ((equals ?? contains) as JsonEntry).value
  let value: ConditionValue | undefined
  if (valueNode.kind === 'string') value = parseTemplate(valueNode, issues, referenced)
  else if (valueNode.kind === 'number' || valueNode.kind === 'boolean') {
    value = { kind: 'literal', value: valueNode.value }
  } else if (valueNode.kind === 'null') value = { kind: 'literal', value: null }
  else issues.error(valueNode.offset, `"${test}" must be a string, a number, a boolean or null`)
  if (path === undefined || value === undefined) return undefined
  return { kind: 'claim', path, test, value }
}

function parseClaimPath(node: JsonNode, issues: IssueList): string[] | undefined {
  if (node.kind === 'string' && node.value !== '') return [node.value]
  if (
    node.kind === 'array' &&
    node.items.length > 0 &&
    node.items.every((i) => i.kind === 'string' && i.value !== '')
  ) {
    return node.items.map((i) => (i as { value: string }).value)
  }
  issues.error(
    node.offset,
    '"claim" must be a claim name ("role") or a path of names (["realm_access", "roles"])',
  )
  return undefined
}

/** Splits `"{name}-x"` into capture references and text, recording where each reference is. */
function parseTemplate(
  node: Extract<JsonNode, { kind: 'string' }>,
  issues: IssueList,
  referenced: Map<string, number>,
): ConditionValue | undefined {
  const parts: TemplatePart[] = []
  const text = node.value
  let i = 0
  while (i < text.length) {
    const open = text.indexOf('{', i)
    if (open < 0) {
      parts.push({ kind: 'text', text: text.slice(i) })
      break
    }
    if (open > i) parts.push({ kind: 'text', text: text.slice(i, open) })
    const close = text.indexOf('}', open)
    const name = close < 0 ? '' : text.slice(open + 1, close)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      issues.error(
        node.offset + 1 + open,
        `"{" starts a capture reference such as {id}; "${text}" has a malformed one`,
      )
      return undefined
    }
    parts.push({ kind: 'capture', name })
    if (!referenced.has(name)) referenced.set(name, node.offset + 1 + open)
    i = close + 1
  }
  return { kind: 'template', parts }
}
