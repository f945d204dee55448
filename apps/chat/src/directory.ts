import type { Message } from '@seqline/client'
import { DEFAULT_CHANNELS, type DirectoryEvent, channelStream } from './chat-model.js'

/** The directory as of its messages so far. */
export interface Directory {
  readonly users: readonly string[]
  /** Channel streams, by title order. */
  readonly channels: readonly { readonly id: string; readonly title: string }[]
  /** Channel stream → members. */
  readonly members: ReadonlyMap<string, ReadonlySet<string>>
  /** DM streams with their two members. */
  readonly dms: readonly { readonly id: string; readonly members: readonly string[] }[]
}

/**
 * Folds directory events into the directory. Every event is idempotent (two tabs creating the same
 * channel at once is harmless), and default channels exist even before anyone announced them.
 */
export function buildDirectory(messages: readonly Message<DirectoryEvent>[]): Directory {
  const users = new Set<string>()
  const channels = new Map<string, string>()
  const members = new Map<string, Set<string>>()
  const dms = new Map<string, readonly string[]>()
  for (const title of DEFAULT_CHANNELS) channels.set(channelStream(title), title)
  for (const { data } of messages) {
    switch (data.type) {
      case 'user':
        users.add(data.user)
        break
      case 'channel':
        if (!channels.has(data.id)) channels.set(data.id, data.title)
        break
      case 'join': {
        const set = members.get(data.channel) ?? new Set<string>()
        set.add(data.user)
        members.set(data.channel, set)
        break
      }
      case 'dm':
        dms.set(data.id, data.members)
        break
      default:
    }
  }
  return {
    users: [...users].sort(),
    channels: [...channels]
      .map(([id, title]) => ({ id, title }))
      .sort((a, b) => a.title.localeCompare(b.title)),
    members,
    dms: [...dms].map(([id, m]) => ({ id, members: m })),
  }
}
