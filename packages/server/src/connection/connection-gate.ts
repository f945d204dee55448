import { ErrorCode, SeqlineError } from '@seqline/protocol'

/** Limits of {@link ConnectionGate} (from the server's `connections` settings). */
export interface ConnectionGateLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
  readonly maxPendingHellos: number
}

/** A connection admitted by the gate; release it exactly once when it ends. */
export interface AdmittedConnection {
  /** The connection finished its hello (it no longer counts as pending). */
  greeted(): void
  release(): void
}

/**
 * Admission of connections, shared by every transport of a node (WebSocket and HTTP sessions):
 * caps on open connections per node and per remote address (TOO_MANY_CONNECTIONS), and on
 * connections still being admitted (`hello` not answered yet): beyond that the node is OVERLOADED
 * and the client is told to retry after a jittered delay, so a reconnect storm queues at the
 * clients instead of piling up timeouts on the server (F10, reconnect storms).
 */
export class ConnectionGate {
  #open = 0
  #pending = 0
  readonly #perAddress = new Map<string, number>()

  constructor(private readonly limits: ConnectionGateLimits) {}

  get open(): number {
    return this.#open
  }

  get pending(): number {
    return this.#pending
  }

  /** Admits a new connection from `address` or throws TOO_MANY_CONNECTIONS / OVERLOADED. */
  admit(address: string): AdmittedConnection {
    const fromAddress = this.#perAddress.get(address) ?? 0
    if (this.#open >= this.limits.maxConnections) {
      throw new SeqlineError(ErrorCode.TOO_MANY_CONNECTIONS, 'this node is at its connection limit')
    }
    if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      throw new SeqlineError(
        ErrorCode.TOO_MANY_CONNECTIONS,
        'too many connections from this address',
      )
    }
    if (this.#pending >= this.limits.maxPendingHellos) {
      throw new SeqlineError(ErrorCode.OVERLOADED, 'too many connections are being admitted')
    }
    this.#open += 1
    this.#pending += 1
    this.#perAddress.set(address, fromAddress + 1)
    return new Admitted(this, address)
  }

  /** An admitted connection finished its hello. */
  greeted(): void {
    this.#pending -= 1
  }

  /** An admitted connection ended (`pending`: before its hello was answered). */
  released(address: string, pending: boolean): void {
    if (pending) this.#pending -= 1
    this.#open -= 1
    const n = (this.#perAddress.get(address) ?? 1) - 1
    if (n <= 0) this.#perAddress.delete(address)
    else this.#perAddress.set(address, n)
  }

  /** A retry hint for an OVERLOADED answer: 1–5 s, jittered so that retries spread. */
  retryAfterSeconds(): number {
    return 1 + Math.floor(Math.random() * 5)
  }
}

/** One admitted connection: its place in the gate's counts, given back once. */
class Admitted implements AdmittedConnection {
  #pending = true
  #released = false

  constructor(
    private readonly gate: ConnectionGate,
    private readonly address: string,
  ) {}

  greeted(): void {
    if (!this.#pending || this.#released) return
    this.#pending = false
    this.gate.greeted()
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    this.gate.released(this.address, this.#pending)
    this.#pending = false
  }
}
