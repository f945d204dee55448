/** A random 128-bit id in hex; uses `crypto.getRandomValues`, available in browsers and Node 20. */
export function randomId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}
