import { ErrorCode, SeqlineError } from '@seqline/protocol'
import { ClientError, ClientErrorCode } from './client-error.js'
import type { Storage } from './storage/storage.js'

/** What {@link forgetClient} deletes. */
export interface ClientDeletion {
  readonly storage: Storage
  /** The storage namespace of the client's positions and outbox. */
  readonly namespace: string
  /** The key of the identity record. */
  readonly identityKey: string
  /** `<base>/v1/clients/<id>`; absent when the server never assigned an id. */
  readonly url?: string
  token?(): string | Promise<string>
  readonly fetch?: typeof fetch
}

/**
 * Deletes a client for good: on the server (`DELETE /v1/clients/<id>`, user token; a 404 means it
 * was gone already), then its identity, positions and outbox in storage — the local part even when
 * the server part failed, which is then thrown: a `SeqlineError` with the server's code, or a
 * `ClientError` FORGET_FAILED when the server could not be reached (it then forgets the client
 * after its TTL).
 */
export async function forgetClient(deletion: ClientDeletion): Promise<void> {
  let failure: Error | undefined
  if (deletion.url !== undefined && deletion.fetch !== undefined && deletion.token !== undefined) {
    try {
      const res = await deletion.fetch(deletion.url, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${await deletion.token()}` },
      })
      const body = (await res.json().catch(() => ({}))) as {
        error?: { code?: ErrorCode; message?: string }
      }
      if (!res.ok && res.status !== 404) {
        failure = new SeqlineError(
          body.error?.code ?? ErrorCode.INTERNAL,
          body.error?.message ?? `HTTP ${res.status}`,
        )
      }
    } catch (cause) {
      const message = 'could not delete the client on the server; it forgets it after its TTL'
      failure = new ClientError(ClientErrorCode.FORGET_FAILED, message, { cause })
    }
  }
  const keys = await deletion.storage.keys(deletion.namespace)
  await Promise.all([...keys, deletion.identityKey].map((key) => deletion.storage.delete(key)))
  if (failure !== undefined) throw failure
}
