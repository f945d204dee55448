import type { Message } from '@seqline/protocol'

/**
 * Turns push delivery into an `AsyncIterableIterator`. The message handler it provides resolves
 * only when the consumer asks for the next message, so a message counts as processed (and is acked)
 * once the `for await` body that received it has finished.
 */
export function messageIterator<T>(unsubscribe: () => void): {
  iterator: AsyncIterableIterator<Message<T>>
  onMessage: (message: Message<T>) => Promise<void>
  end: () => void
} {
  let consumer: ((result: IteratorResult<Message<T>>) => void) | undefined
  let offered: { message: Message<T>; release: () => void } | undefined
  let releasePrevious: (() => void) | undefined
  let ended = false

  const end = (): void => {
    if (ended) return
    ended = true
    releasePrevious?.()
    releasePrevious = undefined
    offered?.release()
    offered = undefined
    consumer?.({ value: undefined, done: true })
    consumer = undefined
  }

  const iterator: AsyncIterableIterator<Message<T>> = {
    next() {
      // Asking for the next message means the previous one is processed.
      releasePrevious?.()
      releasePrevious = undefined
      if (ended) return Promise.resolve({ value: undefined, done: true })
      if (offered !== undefined) {
        const { message, release } = offered
        offered = undefined
        releasePrevious = release
        return Promise.resolve({ value: message, done: false })
      }
      return new Promise((resolve) => {
        consumer = resolve
      })
    },
    return() {
      unsubscribe()
      end()
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }

  const onMessage = (message: Message<T>): Promise<void> =>
    new Promise((release) => {
      if (ended) {
        release()
        return
      }
      if (consumer !== undefined) {
        const resolve = consumer
        consumer = undefined
        releasePrevious = release
        resolve({ value: message, done: false })
      } else offered = { message, release }
    })

  return { iterator, onMessage, end }
}
