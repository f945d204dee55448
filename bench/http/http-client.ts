import { Agent, request } from 'node:http'

/** The parts of an HTTP answer the benchmark looks at. */
export interface BenchResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
}

/**
 * A keep-alive HTTP/1.1 client over `node:http`, lighter than `fetch` so that on a small machine
 * the load generator takes less of the CPU it shares with the servers.
 */
export class HttpClient {
  readonly #agent: Agent

  constructor(
    private readonly baseUrl: string,
    maxSockets: number,
  ) {
    this.#agent = new Agent({ keepAlive: true, maxSockets })
  }

  send(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer | string,
  ): Promise<BenchResponse> {
    const url = new URL(path, this.baseUrl)
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.#agent,
          headers:
            body === undefined
              ? headers
              : { ...headers, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          )
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  close(): void {
    this.#agent.destroy()
  }
}
