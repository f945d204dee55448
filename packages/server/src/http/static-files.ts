import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
}

/** Serves a request from a directory; resolves `false` when it is not one for static files. */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

/**
 * Creates a handler that serves the files of `dir` for GET and HEAD (e.g. a web app's build).
 * Paths are resolved safely: no `..` escape, no symlink leading out of `dir`, no dotfiles. A path
 * outside `/v1/` that names no file gets `index.html`, so client-side routes of a single-page app
 * load on refresh; a missing asset (a name with an extension) does not, to fail visibly.
 *
 * @example
 * const serveStatic = createStaticHandler('./apps/chat/dist')
 * if (!(await serveStatic(req, res))) notFound(res)
 */
export function createStaticHandler(dir: string): StaticHandler {
  // Resolved lazily: the directory may be created after the server starts (a build in progress).
  let rootPromise: Promise<string | undefined> | undefined
  const root = (): Promise<string | undefined> =>
    (rootPromise ??= realpath(resolve(dir)).catch(() => {
      rootPromise = undefined
      return undefined
    }))

  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const path = decodePath(req.url)
    if (path === undefined || path.startsWith('/v1/') || path === '/v1') return false
    const base = await root()
    if (base === undefined) return false

    let file = await findFile(base, path)
    if (file === undefined && extname(path) === '') file = await findFile(base, '/index.html')
    if (file === undefined) return false
    await sendFile(req, res, file.path, file.size, file.mtime)
    return true
  }
}

interface FoundFile {
  readonly path: string
  readonly size: number
  readonly mtime: Date
}

async function findFile(base: string, urlPath: string): Promise<FoundFile | undefined> {
  const segments = urlPath.split('/').filter((s) => s !== '')
  // Dotfiles (.env, .git) are never served; `..` is refused here before any resolution.
  if (segments.some((s) => s.startsWith('.') || s.includes('\\'))) return undefined
  let candidate = join(base, ...segments)
  try {
    let info = await stat(candidate)
    if (info.isDirectory()) {
      candidate = join(candidate, 'index.html')
      info = await stat(candidate)
    }
    if (!info.isFile()) return undefined
    // A symlink inside the directory may point anywhere: check where it really leads.
    const real = await realpath(candidate)
    if (real !== base && !real.startsWith(base + sep)) return undefined
    return { path: real, size: info.size, mtime: info.mtime }
  } catch {
    return undefined
  }
}

async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  size: number,
  mtime: Date,
): Promise<void> {
  const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000)
  const since = Date.parse(req.headers['if-modified-since'] ?? '')
  res.setHeader(
    'Content-Type',
    CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
  )
  res.setHeader('Last-Modified', lastModified.toUTCString())
  res.setHeader('X-Content-Type-Options', 'nosniff')
  // Fingerprinted build assets (name-abc12345.js) never change; everything else is revalidated.
  res.setHeader(
    'Cache-Control',
    /[.-](?=[0-9A-Za-z_-]*\d)[0-9A-Za-z_-]{8,}\.[a-z0-9]+$/.test(path) && !path.endsWith('.html')
      ? 'public, max-age=31536000, immutable'
      : 'no-cache',
  )
  if (!Number.isNaN(since) && lastModified.getTime() <= since) {
    res.statusCode = 304
    res.end()
    return
  }
  res.statusCode = 200
  res.setHeader('Content-Length', size)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  await new Promise<void>((done) => {
    const stream = createReadStream(path)
    stream.on('error', () => {
      res.destroy()
      done()
    })
    res.on('close', () => {
      stream.destroy()
      done()
    })
    stream.pipe(res)
  })
}

function decodePath(url: string | undefined): string | undefined {
  const raw = (url ?? '/').split('?', 1)[0] ?? '/'
  try {
    const path = decodeURIComponent(raw)
    return path.includes('\0') ? undefined : path
  } catch {
    return undefined
  }
}
