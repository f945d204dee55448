import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'

// API keys of the backend HTTP API: what the application's servers (not its users) present to
// publish and manage streams. Keys come from a file (`--api-keys-file`) or the environment
// (`SEQLINE_API_KEYS`), never the command line. Only their SHA-256 hashes are kept in memory — a
// file may even hold hashes only — and only key ids ever reach a log.
//
// Formats, the same for the file and the variable:
//
//   # one key per line; blank lines and # comments are ignored; the id is derived from the hash
//   3q2+7wYJ0cPq8Hh1m4lT8cZ0m1Rk0e6r9yY5v0ZbW2s
//
//   {"keys": [                                          (or the bare array)
//     {"id": "billing", "key": "3q2+7wYJ0cPq8Hh1m4lT8cZ0m1Rk0e6r9yY5v0ZbW2s"},
//     {"id": "crm", "sha256": "<64 hex digits: sha256 of the key>"}
//   ]}
//
// In the variable, keys may also be separated by commas.

/** Who presented a valid key. */
export interface ApiKeyIdentity {
  readonly keyId: string
}

/** Shortest accepted key: 32 characters (openssl rand -base64 32 gives 44). */
export const MIN_API_KEY_LENGTH = 32
const MAX_API_KEY_LENGTH = 512
/** Printable ASCII without spaces and commas: what fits in a header and a comma-separated list. */
const API_KEY = /^[\x21-\x2b\x2d-\x7e]+$/
const KEY_ID = /^[A-Za-z0-9_.:-]{1,64}$/
const SHA256_HEX = /^[0-9a-f]{64}$/

interface StoredKey {
  readonly id: string
  readonly hash: Buffer
}

/**
 * The set of valid API keys, as hashes. `verify()` is constant-time in the key presented: it
 * hashes it and compares the hash with every stored one.
 *
 * @example
 * const keyring = ApiKeyring.load({ file: config.apiKeysFile, env: process.env })
 * const caller = keyring?.verify(req.headers.authorization)
 * if (caller === undefined) throw new SeqlineError(ErrorCode.UNAUTHENTICATED, 'API key required')
 * logger.info({ keyId: caller.keyId }, 'stream deleted by the backend')
 */
export class ApiKeyring {
  readonly #keys: readonly StoredKey[]

  private constructor(keys: readonly StoredKey[]) {
    this.#keys = keys
  }

  /**
   * The keyring of `--api-keys-file` or of `SEQLINE_API_KEYS`; `undefined` when neither is set.
   * Throws when both are, and on a malformed source (naming the line, never the key).
   */
  static load(sources: {
    readonly file?: string | undefined
    readonly env: NodeJS.ProcessEnv
  }): ApiKeyring | undefined {
    const fromEnv = sources.env.SEQLINE_API_KEYS
    const hasEnv = fromEnv !== undefined && fromEnv.trim() !== ''
    if (sources.file !== undefined && hasEnv) {
      throw new Error(
        'API keys are set twice, by --api-keys-file and by SEQLINE_API_KEYS: keep one',
      )
    }
    if (sources.file !== undefined) {
      let text: string
      try {
        text = readFileSync(sources.file, 'utf8')
      } catch (cause) {
        throw new Error(`Cannot read the API keys file ${sources.file}`, { cause })
      }
      return ApiKeyring.parse(text, sources.file)
    }
    return hasEnv ? ApiKeyring.parse(fromEnv, 'SEQLINE_API_KEYS', { commas: true }) : undefined
  }

  /**
   * Parses keys in either format; `source` names them in errors. With `commas`, plain keys may
   * also be separated by commas (the environment variable).
   */
  static parse(
    text: string,
    source: string,
    { commas = false }: { readonly commas?: boolean } = {},
  ): ApiKeyring {
    const trimmed = text.trim()
    const keys =
      trimmed.startsWith('{') || trimmed.startsWith('[')
        ? parseJsonKeys(trimmed, source)
        : parseKeyLines(text, source, commas)
    if (keys.length === 0) throw new Error(`${source} holds no API key`)
    const ids = new Set<string>()
    const hashes = new Set<string>()
    for (const key of keys) {
      const hex = key.hash.toString('hex')
      if (hashes.has(hex)) throw new Error(`${source}: the key "${key.id}" is listed twice`)
      hashes.add(hex)
      if (ids.has(key.id)) throw new Error(`${source}: the key id "${key.id}" is used twice`)
      ids.add(key.id)
    }
    return new ApiKeyring(keys)
  }

  /**
   * The identity of the key in an `Authorization: Bearer <key>` header value (or a bare key), or
   * `undefined` when it is missing or matches no key.
   */
  verify(authorization: string | undefined): ApiKeyIdentity | undefined {
    if (authorization === undefined) return undefined
    const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization)
    const key = match === null ? authorization.trim() : (match[1] as string)
    if (key.length < MIN_API_KEY_LENGTH || key.length > MAX_API_KEY_LENGTH) return undefined
    const presented = sha256(key)
    let found: StoredKey | undefined
    // Every stored hash is compared, matched or not: the time taken says nothing about which.
    for (const stored of this.#keys) {
      if (timingSafeEqual(stored.hash, presented) && found === undefined) found = stored
    }
    return found === undefined ? undefined : { keyId: found.id }
  }

  /** The ids of the keys (for a startup log line; the keys themselves are never shown). */
  get ids(): readonly string[] {
    return this.#keys.map((k) => k.id)
  }

  /** Shows ids only, whatever logs or inspects the keyring. */
  toJSON(): { readonly keyIds: readonly string[] } {
    return { keyIds: this.ids }
  }

  toString(): string {
    return `ApiKeyring(${this.ids.join(', ')})`
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString()
  }
}

function parseKeyLines(text: string, source: string, commas: boolean): StoredKey[] {
  const keys: StoredKey[] = []
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) return
    for (const key of commas ? line.split(',').map((k) => k.trim()) : [line]) {
      if (key === '') continue
      checkKey(key, `${source} line ${index + 1}`)
      const hash = sha256(key)
      keys.push({ id: `key-${hash.toString('hex').slice(0, 8)}`, hash })
    }
  })
  return keys
}

function parseJsonKeys(text: string, source: string): StoredKey[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // JSON.parse's message may quote the text, i.e. a key: give the reason without it.
    throw new Error(`${source} is not valid JSON`)
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new Error(`${source}: expected {"keys": [{"id", "key"}, …]}`)
  return list.map((entry: unknown, index) => {
    const where = `${source} keys[${index}]`
    if (typeof entry !== 'object' || entry === null) throw new Error(`${where} is not an object`)
    const { id, key, sha256: hex, ...rest } = entry as Record<string, unknown>
    const unknown = Object.keys(rest)
    if (unknown.length > 0) {
      throw new Error(`${where}: unknown field "${unknown[0]}" (expected id, key or sha256)`)
    }
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw new Error(`${where}: "id" must be 1-64 characters of A-Z a-z 0-9 _ . : -`)
    }
    if ((key === undefined) === (hex === undefined)) {
      throw new Error(`${where} ("${id}"): give exactly one of "key" and "sha256"`)
    }
    if (key !== undefined) {
      if (typeof key !== 'string') throw new Error(`${where} ("${id}"): "key" must be a string`)
      checkKey(key, `${where} ("${id}")`)
      return { id, hash: sha256(key) }
    }
    if (typeof hex !== 'string' || !SHA256_HEX.test(hex)) {
      throw new Error(`${where} ("${id}"): "sha256" must be 64 lower-case hex digits`)
    }
    return { id, hash: Buffer.from(hex, 'hex') }
  })
}

/** Throws, naming `where` but never the key, when `key` is not an acceptable API key. */
function checkKey(key: string, where: string): void {
  if (key.length < MIN_API_KEY_LENGTH) {
    throw new Error(`${where}: an API key is at least ${MIN_API_KEY_LENGTH} characters`)
  }
  if (key.length > MAX_API_KEY_LENGTH || !API_KEY.test(key)) {
    throw new Error(
      `${where}: an API key is at most ${MAX_API_KEY_LENGTH} printable ASCII characters, without spaces or commas`,
    )
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}
