import { ErrorCode, SeqlineError, isValidStreamName } from '@seqline/protocol'
import type { Route } from './route.js'

/** A route whose path matched, with its decoded parameters. */
export interface RouteMatch {
  readonly route: Route
  readonly params: Record<string, string>
}

/** The answer of the router for one path. */
export type Routing =
  | { readonly kind: 'match'; readonly match: RouteMatch }
  /** The path names a resource, but not for this method (405 with `Allow`). */
  | { readonly kind: 'method'; readonly allow: readonly string[] }
  | { readonly kind: 'none' }

interface Compiled {
  readonly route: Route
  readonly pattern: RegExp
  readonly names: readonly string[]
}

/**
 * The route table of the HTTP API (one matcher for every route, instead of one hand-rolled
 * matcher per file). Parameters are percent-decoded; a malformed encoding is BAD_REQUEST, and a
 * `*stream` parameter that is no valid stream name is INVALID_STREAM_NAME, so handlers only ever
 * see valid names.
 */
export class Router {
  readonly #routes: Compiled[]

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map(compile)
  }

  route(method: string, path: string): Routing {
    const allow = new Set<string>()
    for (const compiled of this.#routes) {
      const m = compiled.pattern.exec(path)
      if (m === null) continue
      if (!compiled.route.methods.includes(method)) {
        for (const allowed of compiled.route.methods) allow.add(allowed)
        continue
      }
      const params: Record<string, string> = {}
      compiled.names.forEach((name, i) => {
        params[name] = decodeParam(name, m[i + 1] ?? '')
      })
      return { kind: 'match', match: { route: compiled.route, params } }
    }
    return allow.size > 0 ? { kind: 'method', allow: [...allow] } : { kind: 'none' }
  }
}

function compile(route: Route): Compiled {
  const names: string[] = []
  const body = route.path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1))
        return '([^/]+)'
      }
      if (segment.startsWith('*')) {
        names.push(segment.slice(1))
        return '(.+)'
      }
      return segment.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')
    })
    .join('/')
  return { route, pattern: new RegExp(`^${body}$`), names }
}

function decodeParam(name: string, raw: string): string {
  let value: string
  try {
    value = decodeURIComponent(raw)
  } catch {
    if (name === 'stream')
      throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
    throw new SeqlineError(ErrorCode.BAD_REQUEST, `Malformed ${name} in the path`)
  }
  if (name === 'stream' && !isValidStreamName(value)) {
    throw new SeqlineError(ErrorCode.INVALID_STREAM_NAME, 'Invalid stream name')
  }
  if (value === '') throw new SeqlineError(ErrorCode.BAD_REQUEST, `Malformed ${name} in the path`)
  return value
}
