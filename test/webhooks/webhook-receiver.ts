import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifySignature } from '../../packages/server/src/auth/hmac-signature.js'
import type { WebhookEvent } from '../../packages/server/src/webhooks/webhook-event.js'

/** The secret webhook tests sign with (at least 32 characters). */
export const WEBHOOK_SECRET = 'the-webhook-secret-shared-with-the-receiver'

/** One delivery attempt as the receiver saw it. */
export interface ReceivedAttempt {
  readonly event: WebhookEvent
  readonly headerId: string | undefined
  readonly signed: boolean
  readonly answered: number
}

/** A webhook receiver on 127.0.0.1 that answers `status` (changeable) to every delivery. */
export interface WebhookReceiver {
  readonly url: string
  readonly attempts: ReceivedAttempt[]
  /** Events answered 2xx, by id. */
  readonly delivered: Map<string, WebhookEvent>
  /** What the next deliveries are answered. */
  status: number
  /** Resolves once `condition()` holds, checked now and after every attempt. */
  until(condition: () => boolean): Promise<void>
  close(): Promise<void>
}

/**
 * Starts a receiver that checks each delivery's signature and records it.
 *
 * @example
 * const receiver = await startWebhookReceiver()
 * await receiver.until(() => receiver.delivered.size === 3)
 */
export async function startWebhookReceiver(status = 204): Promise<WebhookReceiver> {
  const attempts: ReceivedAttempt[] = []
  const delivered = new Map<string, WebhookEvent>()
  const waiters = new Set<() => void>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const event = JSON.parse(body) as WebhookEvent
      const signature = req.headers['seqline-signature']
      const headerId = req.headers['seqline-event-id']
      const answered = receiver.status
      attempts.push({
        event,
        headerId: typeof headerId === 'string' ? headerId : undefined,
        signed: verifySignature(
          WEBHOOK_SECRET,
          typeof signature === 'string' ? signature : '',
          body,
        ),
        answered,
      })
      if (answered >= 200 && answered < 300) delivered.set(event.id, event)
      res.writeHead(answered).end()
      for (const wake of [...waiters]) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/seqline/webhooks`,
    attempts,
    delivered,
    status,
    until: (condition) =>
      new Promise<void>((resolve) => {
        const wake = (): void => {
          if (!condition()) return
          waiters.delete(wake)
          resolve()
        }
        waiters.add(wake)
        wake()
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return receiver
}

/** The delivered events of `type`, in the order they were delivered. */
export function deliveredOf<T extends WebhookEvent['type']>(
  receiver: WebhookReceiver,
  type: T,
): Extract<WebhookEvent, { type: T }>[] {
  return [...receiver.delivered.values()].filter(
    (e): e is Extract<WebhookEvent, { type: T }> => e.type === type,
  )
}
