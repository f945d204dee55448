import type { StreamView } from '@seqline/react'
import { useCallback, useSyncExternalStore } from 'react'
import type { ChatText, SeenReceipt } from './chat-model.js'

/** What the tab follows of one conversation: its messages and its read receipts. */
export interface Feed {
  readonly messages: StreamView<ChatText>
  readonly seen: StreamView<SeenReceipt>
}

/**
 * The views of every followed conversation, shared by the sidebar (unread counts) and the open
 * conversation. Each conversation is followed by one `<ConversationFeed>` (hooks cannot be called
 * in a loop), which publishes its views here.
 */
export class FeedRegistry {
  readonly #feeds = new Map<string, Feed>()
  readonly #listeners = new Set<() => void>()
  #version = 0

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  readonly version = (): number => this.#version

  get(stream: string): Feed | undefined {
    return this.#feeds.get(stream)
  }

  set(stream: string, feed: Feed | undefined): void {
    if (feed === undefined) this.#feeds.delete(stream)
    else this.#feeds.set(stream, feed)
    this.#version += 1
    for (const listener of [...this.#listeners]) listener()
  }
}

/** The feed of one conversation, re-rendering when it changes. */
export function useFeed(registry: FeedRegistry, stream: string): Feed | undefined {
  const get = useCallback(() => registry.get(stream), [registry, stream])
  return useSyncExternalStore(registry.subscribe, get, get)
}

/** Re-renders on any feed change (the sidebar's unread counts). */
export function useFeedsVersion(registry: FeedRegistry): number {
  return useSyncExternalStore(registry.subscribe, registry.version, registry.version)
}
