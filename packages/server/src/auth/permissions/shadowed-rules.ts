import type { AuthorizeAction } from '../authenticator.js'
import type { PermissionPolicy, PermissionRule } from './permission-policy.js'
import type { PermissionsIssue } from './permissions-file-error.js'
import { patternCovers } from './stream-pattern.js'

/**
 * Rules (or actions of rules) that can never apply because an earlier rule always decides first:
 * an earlier rule without conditions that names the same action and whose pattern matches every
 * stream the later pattern matches. Such a rule is almost always a mistake in the order (a broad
 * deny before the narrow allow meant to be an exception to it), so it is reported as a warning.
 *
 * Only single earlier rules are compared: a rule covered by the union of several earlier ones is
 * not reported.
 *
 * @example
 * for (const w of findShadowedRules(policy)) logger.warn(`${file}:${w.line}: ${w.message}`)
 */
export function findShadowedRules(policy: PermissionPolicy): PermissionsIssue[] {
  const warnings: PermissionsIssue[] = []
  policy.rules.forEach((rule, index) => {
    const live = rule.patterns.filter((p) => p.live)
    // A rule whose every pattern is dead was reported when it was parsed.
    if (live.length === 0) return
    const earlier = policy.rules.slice(0, index).filter((e) => e.conditions.length === 0)
    const deciders = new Set<PermissionRule>()
    const dead: AuthorizeAction[] = []
    for (const action of rule.actions) {
      const coveringRules = live.map((p) =>
        earlier.find(
          (e) =>
            e.actions.has(action) &&
            e.patterns.some((q) => q.live && patternCovers(q.pattern, p.pattern)),
        ),
      )
      if (coveringRules.every((e) => e !== undefined)) {
        dead.push(action)
        for (const e of coveringRules) deciders.add(e as PermissionRule)
      }
    }
    if (dead.length === 0) return
    const by = [...deciders].map((e) => `rule ${e.number} (line ${e.position.line})`).join(' and ')
    const message =
      dead.length === rule.actions.size
        ? `rule ${rule.number} can never match: ${by} decides first for every stream and action it names`
        : `rule ${rule.number} can never apply to ${dead.map((a) => `"${a}"`).join(', ')}: ${by} decides first`
    warnings.push({ ...rule.position, message })
  })
  return warnings
}
