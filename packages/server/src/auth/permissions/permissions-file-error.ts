import type { TextPosition } from './located-json.js'

/** One finding about a permissions file, at a line and column of it. */
export interface PermissionsIssue extends TextPosition {
  readonly message: string
}

/**
 * A permissions file cannot be used: it is not valid JSON, or it says something that has no
 * meaning (an unknown action, a malformed stream pattern, a reference to a capture its rule does
 * not have…). The message lists every issue as `file:line:column: reason`, the way compilers do,
 * so that an editor or a terminal can jump to it; the server refuses to start with it.
 */
export class PermissionsFileError extends Error {
  override readonly name = 'PermissionsFileError'
  readonly code = 'PERMISSIONS_FILE_INVALID' as const

  constructor(
    readonly file: string,
    readonly issues: readonly PermissionsIssue[],
  ) {
    const lines = issues.map((issue) => formatIssue(file, issue))
    super(
      issues.length === 1
        ? `Invalid permissions file: ${lines[0]}`
        : `Invalid permissions file (${issues.length} problems):\n  ${lines.join('\n  ')}`,
    )
  }
}

/** `file:line:column: message`. */
export function formatIssue(file: string, issue: PermissionsIssue): string {
  return `${file}:${issue.line}:${issue.column}: ${issue.message}`
}
