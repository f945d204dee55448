// What the chat stores in Seqline streams. Everything is a stream of JSON messages:
//
//   chat:directory     users, channels, memberships and direct-message pairs (everyone follows it)
//   room:<id>          a channel's messages
//   dm:<a>:<b>         a direct conversation (user ids sorted)
//   seen:<stream>      read receipts of a conversation: each user's "read up to offset"

/** The stream every tab follows: who and what exists. */
export const DIRECTORY = 'chat:directory'

/** Channels everyone is in. */
export const DEFAULT_CHANNELS = ['general', 'random'] as const

/** One event of the directory stream. */
export type DirectoryEvent =
  | { readonly type: 'user'; readonly user: string }
  | { readonly type: 'channel'; readonly id: string; readonly title: string }
  | { readonly type: 'join'; readonly channel: string; readonly user: string }
  | { readonly type: 'dm'; readonly id: string; readonly members: readonly string[] }

/** One message of a conversation. `cid` is chosen by the sender: it ties the outbox entry shown
 * as "pending" to the committed message, across reloads. */
export interface ChatText {
  readonly type: 'text'
  readonly text: string
  readonly cid: string
}

/** One read receipt: the sender has seen the conversation up to this offset. */
export interface SeenReceipt {
  readonly upTo: number
}

/** A typing signal (ephemeral, never stored). */
export interface TypingSignal {
  readonly typing: boolean
}

/** The stream of a channel. */
export function channelStream(title: string): string {
  return `room:${title}`
}

/** The stream of the direct conversation of two users: the same for both. */
export function dmStream(a: string, b: string): string {
  return `dm:${[a, b].sort().join(':')}`
}

/** The read-receipt stream of a conversation. */
export function seenStream(conversation: string): string {
  return `seen:${conversation}`
}

/** A channel title as typed, made into something valid in a stream name. */
export function channelTitle(input: string): string {
  return input
    .trim()
    .toLowerCase()
    .replace(/^#/, '')
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
}

/** A user name as typed, made into a dev-mode user id (the server accepts `[A-Za-z0-9_.@-]`). */
export function userId(input: string): string {
  return input
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_.@-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
}

/** Who the other person of a DM stream is. */
export function dmPeer(stream: string, me: string): string {
  const members = stream.slice('dm:'.length).split(':')
  return members.find((m) => m !== me) ?? me
}
