import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.js'
import type { UnreadEpisode, UnreadQuery } from '../store/store.js'
import { UnreadDetector, type UnreadSource, unreadIntervalMs } from './unread-detector.js'
import { type WebhookEvent, unreadEventId } from './webhook-event.js'

const logger = createLogger({ level: 'silent' })
const NOW = Date.parse('2026-01-01T00:10:00.000Z')
const DELAY = 60_000

/** Episodes as a store would find them, answered page by page in (user, stream) order. */
class EpisodeTable implements UnreadSource {
  episodes: UnreadEpisode[] = []
  readonly queries: UnreadQuery[] = []

  async findUnread(query: UnreadQuery): Promise<UnreadEpisode[]> {
    this.queries.push(query)
    const key = (e: { user: string; stream: string }): string => `${e.user}\u0000${e.stream}`
    const after = query.after === undefined ? undefined : key(query.after)
    return this.episodes
      .filter((e) => after === undefined || key(e) > after)
      .sort((a, b) => (key(a) < key(b) ? -1 : 1))
      .slice(0, query.limit)
  }
}

function episode(user: string, stream: string, firstUnreadOffset: number): UnreadEpisode {
  return {
    user,
    stream,
    epoch: 'e1',
    firstUnreadOffset,
    since: NOW - 2 * DELAY,
    unread: 3,
  }
}

function detector(table: EpisodeTable, recorded: Iterable<string> = []) {
  const events: WebhookEvent[] = []
  const unread = new UnreadDetector({
    source: table,
    record: async (event) => events.push(event),
    delayMs: DELAY,
    recorded,
    logger,
    now: () => NOW,
  })
  return { unread, events }
}

describe('UnreadDetector', () => {
  it('records one unread event per episode, with an id derived from the episode', async () => {
    const table = new EpisodeTable()
    table.episodes = [episode('alice', 'room:a', 7), episode('bob', 'room:a', 2)]
    const { unread, events } = detector(table)
    expect(await unread.run()).toBe(2)
    expect(events[0]).toEqual({
      id: unreadEventId('alice', 'room:a', 'e1', 7),
      type: 'unread',
      createdAt: new Date(NOW).toISOString(),
      data: {
        user: 'alice',
        stream: 'room:a',
        unread: 3,
        firstUnreadOffset: 7,
        since: new Date(NOW - 2 * DELAY).toISOString(),
      },
    })
    expect(table.queries[0]).toMatchObject({
      offlineBefore: NOW - DELAY,
      committedBefore: NOW - DELAY,
    })
  })

  it('records an episode once however many runs find it, and a new episode again', async () => {
    const table = new EpisodeTable()
    table.episodes = [episode('alice', 'room:a', 7)]
    const { unread, events } = detector(table)
    await unread.run()
    expect(await unread.run()).toBe(0)
    table.episodes = [episode('alice', 'room:a', 12)]
    expect(await unread.run()).toBe(1)
    expect(events.map((e) => e.data)).toMatchObject([
      { firstUnreadOffset: 7 },
      { firstUnreadOffset: 12 },
    ])
  })

  it('skips the episodes whose events the log already holds (a restart, another node)', async () => {
    const table = new EpisodeTable()
    table.episodes = [episode('alice', 'room:a', 7), episode('bob', 'room:b', 1)]
    const { unread, events } = detector(table, [unreadEventId('alice', 'room:a', 'e1', 7)])
    expect(await unread.run()).toBe(1)
    expect(events.map((e) => (e.data as { user: string }).user)).toEqual(['bob'])
  })

  it('ignores internal streams', async () => {
    const table = new EpisodeTable()
    table.episodes = [episode('$seqline', '$webhooks', 3), episode('bob', 'room:b', 1)]
    const { unread, events } = detector(table)
    expect(await unread.run()).toBe(1)
    expect(events.map((e) => (e.data as { stream: string }).stream)).toEqual(['room:b'])
  })

  it('pages through every offline user', async () => {
    const table = new EpisodeTable()
    table.episodes = Array.from({ length: 1_203 }, (_, i) => episode(`u${i}`, 'room:a', 1))
    const { unread, events } = detector(table)
    expect(await unread.run()).toBe(1_203)
    expect(new Set(events.map((e) => e.id)).size).toBe(1_203)
    // 500 + 500 + 203: three queries, each after the last row of the one before.
    expect(table.queries).toHaveLength(3)
    expect(table.queries[0]?.after).toBeUndefined()
  })
})

describe('unreadIntervalMs', () => {
  it('runs four times per delay, between 100 ms and 15 s', () => {
    expect(unreadIntervalMs(60_000)).toBe(15_000)
    expect(unreadIntervalMs(8_000)).toBe(2_000)
    expect(unreadIntervalMs(100)).toBe(100)
    expect(unreadIntervalMs(3_600_000)).toBe(15_000)
  })
})
