import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Principal } from '../auth/authenticator.js'

/**
 * Who may call a route:
 * - `none`: anyone (health, preflights, a beacon proving itself in its body);
 * - `user`: a user token (Authorization: Bearer; for GET/HEAD also `access_token` / cookie);
 * - `user-or-anonymous`: as `user`, and without a token the anonymous user under `--auth none`
 *   (Durable Streams requests of the conformance suite carry no credentials);
 * - `api-key`: a backend's API key.
 */
export type RouteAuth = 'none' | 'user' | 'user-or-anonymous' | 'api-key'

/** What a route handler receives: the request, its parameters and its caller. */
export interface RouteContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** Decoded path parameters (`:id`, and `*stream` already checked as a stream name). */
  readonly params: Readonly<Record<string, string>>
  /** The authenticated user (an anonymous principal for routes with `auth: 'none'`). */
  readonly principal: Principal
  /** For `api-key` routes: the id of the key that authenticated the request. */
  readonly apiKeyId?: string | undefined
}

/** One entry of the HTTP route table. */
export interface Route {
  /** Methods served (`HEAD` is not implied by `GET`). */
  readonly methods: readonly string[]
  /**
   * Path pattern: literal segments, `:name` for one segment and a last `*stream` for the rest of
   * the path as a stream name (names may contain `/`).
   */
  readonly path: string
  readonly auth: RouteAuth
  /** Cross-origin readable (Durable Streams endpoints): CORS and preflights handled. */
  readonly cors?: boolean | undefined
  handle(ctx: RouteContext): Promise<void>
}
