import type { AuthorizeAction } from '../authenticator.js'
import { IssueList, checkKeys, entry } from './issue-list.js'
import {
  type JsonEntry,
  type JsonNode,
  JsonSyntaxError,
  type TextPosition,
  parseLocatedJson,
  positionAt,
} from './located-json.js'
import { PermissionsFileError, type PermissionsIssue } from './permissions-file-error.js'
import { type PermissionCondition, parseCondition } from './rule-condition.js'
import { type StreamPattern, StreamPatternError, parseStreamPattern } from './stream-pattern.js'

// The permissions file (docs/backends.md): rules tried in order; the first rule whose stream
// pattern matches, whose actions include the one asked and whose conditions all hold decides
// (allow or deny); when none does, the answer is deny.
//
//   {
//     "rules": [
//       { "stream": "user:{id}", "allow": ["read", "publish"], "when": [{ "user": "{id}" }] },
//       { "stream": "room:{name}", "allow": ["publish"],
//         "when": [{ "claim": "rooms", "contains": "{name}" }] }
//     ]
//   }

/** Every action a rule may name; `"*"` in a file stands for all of them. */
export const PERMISSION_ACTIONS = [
  'read',
  'publish',
  'signal',
  'presence',
  'manage',
] as const satisfies readonly AuthorizeAction[]

/** One stream pattern of a rule, where it is written, and whether the rule can ever match it. */
export interface RulePattern {
  readonly pattern: StreamPattern
  readonly position: TextPosition
  /** False when a condition refers to a capture this pattern does not have. */
  readonly live: boolean
}

/** One rule of a permissions file. */
export interface PermissionRule {
  /** 1-based, in file order. */
  readonly number: number
  readonly position: TextPosition
  readonly effect: 'allow' | 'deny'
  readonly actions: ReadonlySet<AuthorizeAction>
  readonly patterns: readonly RulePattern[]
  readonly conditions: readonly PermissionCondition[]
  readonly description: string | undefined
}

/** A parsed, checked permissions file. */
export interface PermissionPolicy {
  /** The file's name, in messages. */
  readonly file: string
  readonly rules: readonly PermissionRule[]
}

/** What {@link parsePermissionPolicy} found: the policy and what looks wrong but is allowed. */
export interface ParsedPermissionPolicy {
  readonly policy: PermissionPolicy
  readonly warnings: readonly PermissionsIssue[]
}

const RULE_KEYS = new Set(['description', 'stream', 'allow', 'deny', 'when'])
const ROOT_KEYS = new Set(['description', 'rules'])

/**
 * Parses and checks the text of a permissions file. Throws {@link PermissionsFileError} listing
 * every problem with its line and column: JSON syntax, unknown keys, unknown actions, malformed
 * stream patterns, references to captures a rule does not have. Patterns that can never match
 * (a condition refers to a capture only the rule's other patterns have) are warnings.
 *
 * @example
 * const { policy, warnings } = parsePermissionPolicy(readFileSync(path, 'utf8'), path)
 */
export function parsePermissionPolicy(text: string, file: string): ParsedPermissionPolicy {
  const issues = new IssueList(text)
  let root: JsonNode
  try {
    root = parseLocatedJson(text)
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err
    throw new PermissionsFileError(file, [
      { ...positionAt(text, err.offset), message: `JSON syntax: ${err.message}` },
    ])
  }
  const rules: PermissionRule[] = []
  if (root.kind !== 'object') {
    issues.error(root.offset, 'expected an object {"rules": [...]}')
  } else {
    checkKeys(root.entries, ROOT_KEYS, issues, 'the file')
    const description = entry(root, 'description')
    if (description !== undefined && description.value.kind !== 'string') {
      issues.error(description.value.offset, '"description" must be a string')
    }
    const list = entry(root, 'rules')
    if (list === undefined) issues.error(root.offset, 'missing "rules": [...]')
    else if (list.value.kind !== 'array')
      issues.error(list.value.offset, '"rules" must be an array')
    else {
      if (list.value.items.length === 0) {
        issues.warn(list.value.offset, 'no rules: every request is denied')
      }
      list.value.items.forEach((node, index) => {
        const rule = parseRule(node, index + 1, issues)
        if (rule !== undefined) rules.push(rule)
      })
    }
  }
  if (issues.errors.length > 0) throw new PermissionsFileError(file, issues.errors)
  return { policy: { file, rules }, warnings: issues.warnings }
}

function parseRule(node: JsonNode, number: number, issues: IssueList): PermissionRule | undefined {
  if (node.kind !== 'object') {
    issues.error(node.offset, `rule ${number} must be an object`)
    return undefined
  }
  const before = issues.errors.length
  checkKeys(node.entries, RULE_KEYS, issues, `rule ${number}`)

  const descriptionEntry = entry(node, 'description')
  let description: string | undefined
  if (descriptionEntry !== undefined) {
    if (descriptionEntry.value.kind === 'string') description = descriptionEntry.value.value
    else issues.error(descriptionEntry.value.offset, '"description" must be a string')
  }

  const streams = parseStreams(entry(node, 'stream'), node, number, issues)

  const allow = entry(node, 'allow')
  const deny = entry(node, 'deny')
  let effect: 'allow' | 'deny' = 'deny'
  let actions = new Set<AuthorizeAction>()
  if (allow !== undefined && deny !== undefined) {
    issues.error(deny.keyOffset, `rule ${number} has both "allow" and "deny": split it in two`)
  } else if (allow === undefined && deny === undefined) {
    issues.error(node.offset, `rule ${number} needs "allow": [...] or "deny": [...]`)
  } else {
    const chosen = (allow ?? deny) as JsonEntry
    effect = allow === undefined ? 'deny' : 'allow'
    actions = parseActions(chosen, issues)
  }

  const conditions: PermissionCondition[] = []
  const referenced = new Map<string, number>()
  const when = entry(node, 'when')
  if (when !== undefined) {
    if (when.value.kind !== 'array') {
      issues.error(when.value.offset, '"when" must be an array of conditions (all must hold)')
    } else {
      for (const item of when.value.items) {
        const condition = parseCondition(item, issues, referenced)
        if (condition !== undefined) conditions.push(condition)
      }
    }
  }

  // A reference to a capture that none of the rule's patterns has is a mistake (a typo, or a
  // pattern edited without its conditions). One that only some patterns have makes the others
  // dead: allowed, but worth a warning.
  const known = new Set(streams.flatMap((s) => s.pattern.captures))
  for (const [name, offset] of referenced) {
    if (streams.length > 0 && !known.has(name)) {
      issues.error(
        offset,
        `unknown capture {${name}}: rule ${number}'s stream pattern has ${
          known.size === 0 ? 'no captures' : [...known].map((c) => `{${c}}`).join(', ')
        }`,
      )
    }
  }
  const patterns: RulePattern[] = []
  for (const s of streams) {
    const missing = [...referenced.keys()].filter((name) => !s.pattern.captures.includes(name))
    if (missing.length > 0 && missing.every((name) => known.has(name))) {
      issues.warnAt(
        s.position,
        `rule ${number} can never match pattern "${s.pattern.source}": its conditions refer to ${missing
          .map((c) => `{${c}}`)
          .join(', ')}, which this pattern does not capture`,
      )
    }
    patterns.push({ ...s, live: missing.length === 0 })
  }

  if (issues.errors.length > before) return undefined
  return {
    number,
    position: issues.positionOf(node.offset),
    effect,
    actions,
    patterns,
    conditions,
    description,
  }
}

function parseStreams(
  stream: JsonEntry | undefined,
  rule: JsonNode,
  number: number,
  issues: IssueList,
): Omit<RulePattern, 'live'>[] {
  if (stream === undefined) {
    issues.error(rule.offset, `rule ${number} needs "stream": a stream-name pattern`)
    return []
  }
  const nodes =
    stream.value.kind === 'array'
      ? stream.value.items
      : stream.value.kind === 'string'
        ? [stream.value]
        : []
  if (nodes.length === 0) {
    issues.error(stream.value.offset, '"stream" must be a pattern or a non-empty array of patterns')
    return []
  }
  const out: Omit<RulePattern, 'live'>[] = []
  for (const node of nodes) {
    if (node.kind !== 'string') {
      issues.error(node.offset, 'a stream pattern must be a string')
      continue
    }
    try {
      out.push({
        pattern: parseStreamPattern(node.value),
        position: issues.positionOf(node.offset),
      })
    } catch (err) {
      if (!(err instanceof StreamPatternError)) throw err
      // +1: the opening quote. Patterns hold no escapes worth counting.
      issues.error(
        node.offset + 1 + err.index,
        `bad stream pattern "${node.value}": ${err.message}`,
      )
    }
  }
  return out
}

function parseActions(actions: JsonEntry, issues: IssueList): Set<AuthorizeAction> {
  const out = new Set<AuthorizeAction>()
  if (actions.value.kind !== 'array' || actions.value.items.length === 0) {
    issues.error(
      actions.value.offset,
      `"${actions.key}" must be a non-empty array of actions (${PERMISSION_ACTIONS.join(', ')} or "*")`,
    )
    return out
  }
  for (const item of actions.value.items) {
    if (item.kind === 'string' && item.value === '*') {
      for (const action of PERMISSION_ACTIONS) out.add(action)
      continue
    }
    const action = PERMISSION_ACTIONS.find((a) => item.kind === 'string' && a === item.value)
    if (action === undefined) {
      const shown = item.kind === 'string' ? `"${item.value}"` : `a ${item.kind}`
      issues.error(
        item.offset,
        `unknown action ${shown} (expected ${PERMISSION_ACTIONS.join(', ')} or "*")`,
      )
      continue
    }
    out.add(action)
  }
  return out
}
