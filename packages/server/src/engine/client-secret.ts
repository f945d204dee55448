import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A new client id: unguessable, URL-safe. */
export function newClientId(): string {
  return `c_${randomBytes(12).toString('base64url')}`
}

/** A new client secret (shown once, stored only as a hash). */
export function newClientSecret(): string {
  return randomBytes(24).toString('base64url')
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, secretHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex')
  const b = Buffer.from(secretHash, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}
