import type { SqlClient } from './postgres-connection.js'

// The announcement of a commit made inside an application's own transaction
// (`publishInTransaction`), where no Seqline node is there to tell the others. So the transaction
// itself sends a NOTIFY, which PostgreSQL delivers only if, and when, it commits. The payload is a
// bus `head` message from node `''` (no node): the nodes' PostgresBus receives it like an
// announcement of another node. This file is the one place that knows the channel and encodes
// the payload.

/** Defaults of the commit announcement. */
export const commitAnnouncementDefaults = {
  /** The channel of the PostgreSQL bus and of the announcements, unless configured otherwise. */
  channel: 'seqline',
} as const

/** A commit: `stream` advanced to `head` in `epoch`. */
export interface CommitAnnouncement {
  readonly stream: string
  readonly epoch: string
  readonly head: number
  readonly closed: boolean
}

/** The NOTIFY payload of a commit: a bus `head` message of node `''`. */
export function encodeCommitAnnouncement(commit: CommitAnnouncement): string {
  const { stream, epoch, head, closed } = commit
  return JSON.stringify({ kind: 'head', node: '', stream, epoch, head, closed })
}

/** Announces a commit on `channel`, inside the caller's transaction. */
export async function announceCommit(
  db: SqlClient,
  channel: string,
  commit: CommitAnnouncement,
): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [channel, encodeCommitAnnouncement(commit)])
}
