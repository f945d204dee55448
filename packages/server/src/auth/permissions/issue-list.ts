import type { JsonEntry, JsonNode, TextPosition } from './located-json.js'
import { positionAt } from './located-json.js'
import type { PermissionsIssue } from './permissions-file-error.js'

// What checking a permissions file collects: errors (the file is refused) and warnings (it is
// used, and the oddity logged), each at a line and column of the file.

/** Errors and warnings of one file, located by offset. */
export class IssueList {
  readonly errors: PermissionsIssue[] = []
  readonly warnings: PermissionsIssue[] = []

  constructor(private readonly text: string) {}

  positionOf(offset: number): TextPosition {
    return positionAt(this.text, offset)
  }

  error(offset: number, message: string): void {
    this.errors.push({ ...this.positionOf(offset), message })
  }

  warn(offset: number, message: string): void {
    this.warnings.push({ ...this.positionOf(offset), message })
  }

  warnAt(position: TextPosition, message: string): void {
    this.warnings.push({ ...position, message })
  }
}

/** The member `key` of an object node. */
export function entry(
  node: Extract<JsonNode, { kind: 'object' }>,
  key: string,
): JsonEntry | undefined {
  return node.entries.find((e) => e.key === key)
}

/** Reports every key of `entries` outside `allowed` as an error. */
export function checkKeys(
  entries: readonly JsonEntry[],
  allowed: ReadonlySet<string>,
  issues: IssueList,
  where: string,
): void {
  for (const e of entries) {
    if (!allowed.has(e.key)) {
      issues.error(
        e.keyOffset,
        `unknown key "${e.key}" in ${where} (expected ${[...allowed].map((k) => `"${k}"`).join(', ')})`,
      )
    }
  }
}
