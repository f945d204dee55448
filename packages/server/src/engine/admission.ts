import { ErrorCode, SeqlineError, jsonDepthExceeds } from '@seqline/protocol'
import type { Principal } from '../auth/authenticator.js'
import type { Authorizer } from '../auth/authorizer.js'
import { RateLimiter } from './rate-limiter.js'

/** The limits admission enforces (a slice of the server's limits). */
export interface AdmissionLimits {
  /** Largest message payload, in bytes of its JSON text or body (PAYLOAD_TOO_LARGE). */
  readonly maxPayloadBytes: number
  /** Deepest nesting of arrays and objects in a JSON payload (PAYLOAD_TOO_DEEP). */
  readonly maxJsonDepth: number
  /** Sustained messages per second per client (or per user without a client), RATE_LIMITED. */
  readonly publishRatePerSec: number
  /** Messages a client may burst above the sustained rate. */
  readonly publishBurst: number
  /** Sustained signals per second per client. */
  readonly signalRatePerSec: number
  /** Signals a client may burst above the sustained rate. */
  readonly signalBurst: number
}

/** Who is asking to publish or signal, for authorization and rate accounting. */
export interface Publisher {
  readonly principal: Principal
  /** Rate-limit key: the client id, or `user:<id>` for a request without a client. */
  readonly rateKey: string
}

/**
 * One admission path for what users write (DESIGN §8): WebSocket `pub` frames, Durable Streams
 * appends over HTTP and signals all pass the same size, depth, authorization and rate checks, in
 * that order, each refusal with its stable code. Nothing is written, and no rate is spent, for a
 * refused request. Trusted writers bypass parts of it: the backend API (API key) checks size and
 * depth but spends no rate; `seqline_publish` in PostgreSQL checks nothing (the database's own
 * grants decide who may call it).
 */
export class Admission {
  readonly #publishRate: RateLimiter
  readonly #signalRate: RateLimiter

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly authorizer: Authorizer,
    now: () => number,
  ) {
    this.#publishRate = new RateLimiter(limits.publishRatePerSec, limits.publishBurst, now)
    this.#signalRate = new RateLimiter(limits.signalRatePerSec, limits.signalBurst, now)
  }

  /** Serialises a JSON value to its payload bytes, checking depth and size. */
  encodeJson(data: unknown): Buffer {
    let text: string | undefined
    try {
      text = JSON.stringify(data)
    } catch (cause) {
      // A value nested deeper than the stack (or with cycles: only possible from server code).
      throw new SeqlineError(ErrorCode.PAYLOAD_TOO_DEEP, 'data is nested too deeply', { cause })
    }
    if (text === undefined) throw new SeqlineError(ErrorCode.INVALID_FRAME, 'data must be JSON')
    this.checkJsonText(text)
    const payload = Buffer.from(text)
    this.checkSize(payload.byteLength)
    return payload
  }

  /** Refuses JSON text nested deeper than the limit. */
  checkJsonText(text: string): void {
    if (jsonDepthExceeds(text, this.limits.maxJsonDepth)) {
      throw new SeqlineError(
        ErrorCode.PAYLOAD_TOO_DEEP,
        `JSON is nested deeper than ${this.limits.maxJsonDepth} levels`,
      )
    }
  }

  /** Refuses a payload above the size limit. */
  checkSize(bytes: number): void {
    const limit = this.limits.maxPayloadBytes
    if (bytes > limit) {
      throw new SeqlineError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `payload is ${bytes} bytes; the limit is ${limit}`,
      )
    }
  }

  /** Authorises `publish` on `stream` and takes `count` messages of the publisher's rate. */
  async publish(publisher: Publisher, stream: string, count = 1): Promise<void> {
    await this.authorizer.check(publisher.principal, stream, 'publish')
    this.rate(publisher, count)
  }

  /**
   * Takes `count` messages of the publisher's rate (RATE_LIMITED when over it). For a door that
   * authorises first on its own (HTTP appends are authorised before the stream is looked up).
   */
  rate(publisher: Publisher, count = 1): void {
    if (!this.#publishRate.take(publisher.rateKey, count)) {
      throw new SeqlineError(ErrorCode.RATE_LIMITED, 'publish rate limit exceeded; retry later')
    }
  }

  /** Authorises `signal` on `stream` and takes one signal of the publisher's rate. */
  async signal(publisher: Publisher, stream: string): Promise<void> {
    await this.authorizer.check(publisher.principal, stream, 'signal')
    if (!this.#signalRate.take(publisher.rateKey)) {
      throw new SeqlineError(ErrorCode.RATE_LIMITED, 'signal rate limit exceeded; retry later')
    }
  }

  /** Forgets rate state of idle publishers (housekeeping). */
  prune(): void {
    this.#publishRate.prune()
    this.#signalRate.prune()
  }
}
