import { randomId } from './random-id.js'
import { IDENTITY_KEY } from './storage/session-identity.js'
import type { Storage } from './storage/storage.js'

/**
 * The client's identity record, kept under one key (per tab in sessionStorage in browsers).
 * - `localId` names the storage namespace of this client's positions and outbox. It is created
 *   locally, so a publish made before the first `welcome` is durable too.
 * - `clientId` / `secret` are assigned by the server on first contact (DESIGN §7, G7).
 * - `producerEpoch` grows on every start: a stream that has no stored producer state (storage lost
 *   while the identity survived) starts a new epoch, so a seq can never be reused within one.
 */
export interface Identity {
  readonly localId: string
  readonly clientId?: string
  readonly secret?: string
  readonly producerEpoch: number
}

/** Loads the identity (creating one if absent), bumps its producer epoch and stores it back. */
export async function loadIdentity(storage: Storage): Promise<Identity> {
  const stored = await storage.get<Identity>(IDENTITY_KEY)
  const identity: Identity =
    stored === undefined
      ? { localId: randomId(), producerEpoch: 0 }
      : { ...stored, producerEpoch: stored.producerEpoch + 1 }
  await storage.set(IDENTITY_KEY, identity)
  return identity
}
