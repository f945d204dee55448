import type { ChaosResult } from './chaos-run.js'

/**
 * What makes a run fail the acceptance criteria, one line per problem: any loss, duplicate or
 * reordering for any client, a reset not answered by the snapshot path (or any reset, where the
 * scenario allows none), a publish never acknowledged, a callback after the app dropped its
 * client, and — until-acked — history kept although every follower acked it. Empty when the run
 * is clean.
 */
export function verdict(result: ChaosResult): string[] {
  const problems: string[] = []
  for (const s of result.scores) {
    if (s.lost > 0) {
      problems.push(
        `${s.client}: ${s.lost} of ${s.expected} acked messages lost; last events:\n    ${s.notes.join('\n    ')}`,
      )
    }
    if (s.duplicated > 0) problems.push(`${s.client}: ${s.duplicated} duplicated deliveries`)
    if (s.outOfOrder > 0) problems.push(`${s.client}: ${s.outOfOrder} deliveries out of order`)
    if (s.resets !== s.resetsRecovered) {
      problems.push(`${s.client}: ${s.resets - s.resetsRecovered} resets without a snapshot`)
    }
    // Until-acked under its age cap: a reset means history a following client had not acked
    // was trimmed — a loss the snapshot path only papers over.
    if (result.resets === 'none' && s.resets > 0) {
      problems.push(`${s.client}: ${s.resets} resets where retention may trim nothing unacked`)
    }
  }
  const retained = result.retained
  if (retained !== undefined) {
    const { tail, head, lowestAck, following } = retained
    const at = `tail ${tail}, head ${head}, lowest ack ${lowestAck}, ${following} following`
    if (lowestAck === undefined || lowestAck < 1) {
      problems.push(`until-acked: no follower acked anything (${at})`)
    } else if (tail <= lowestAck) {
      problems.push(`until-acked kept messages every follower acked (${at})`)
    } else if (tail > lowestAck + 1) {
      problems.push(`until-acked trimmed messages a follower had not acked (${at})`)
    }
  }
  if (result.unacked > 0) problems.push(`${result.unacked} publishes never acknowledged`)
  for (const error of result.publishErrors.slice(0, 5)) problems.push(`publish failed: ${error}`)
  if (result.lateCallbacks > 0) {
    problems.push(`${result.lateCallbacks} callbacks from dropped client objects`)
  }
  return problems
}
