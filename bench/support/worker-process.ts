import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** A load-generating child process driven over its IPC channel (see {@link serveParent}). */
export interface WorkerProcess<Request, Reply, Event> {
  readonly pid: number
  /** Sends a request; resolves with the worker's reply to it. */
  request(request: Request): Promise<Reply>
  /** Listens to the events the worker sends between replies (progress). */
  onEvent(listener: (event: Event) => void): void
  /** SIGKILL. */
  kill(): void
  /** Closes the IPC channel (the worker exits, writing its profiles); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Sends `request` and resolves with the reply, which must be of `type` (a worker that answers
 * otherwise failed the request: its reply is thrown as an error).
 *
 * @example
 * const { ready } = await ask(worker, { type: 'connect', count: 50 }, 'connected')
 */
export async function ask<
  Request,
  Reply extends { readonly type: string },
  T extends Reply['type'],
>(
  worker: WorkerProcess<Request, Reply, unknown>,
  request: Request,
  type: T,
): Promise<Extract<Reply, { type: T }>> {
  const reply = await worker.request(request)
  if (reply.type !== type) throw new Error(`expected ${type}, got ${reply.type}`)
  return reply as Extract<Reply, { type: T }>
}

interface Envelope<T> {
  readonly id?: number
  readonly body: T
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `node --import tsx <script>` with an IPC channel. `wrapper` is a command the process is
 * started through, e.g. `['prlimit', '--nofile=40000:40000', '--']` (it must exec Node, keeping
 * the IPC descriptor).
 */
export function startWorker<Request, Reply, Event>(
  script: URL,
  options: {
    readonly wrapper?: readonly string[]
    readonly env?: NodeJS.ProcessEnv
    /** Node options, e.g. `--cpu-prof`. */
    readonly nodeOptions?: readonly string[]
  } = {},
): WorkerProcess<Request, Reply, Event> {
  const command = [
    ...(options.wrapper ?? []),
    process.execPath,
    ...(options.nodeOptions ?? []),
    '--import',
    'tsx',
    fileURLToPath(script),
  ]
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  running.add(child)
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>()
  const listeners: ((event: Event) => void)[] = []
  let nextId = 0
  child.on('message', (message: Envelope<Reply | Event>) => {
    if (message.id === undefined) {
      for (const listener of listeners) listener(message.body as Event)
      return
    }
    pending.get(message.id)?.resolve(message.body as Reply)
    pending.delete(message.id)
  })
  child.once('exit', (code, signal) => {
    running.delete(child)
    for (const { reject } of pending.values()) {
      reject(new Error(`worker ${fileURLToPath(script)} exited (${code ?? signal})`))
    }
    pending.clear()
  })
  return {
    pid: child.pid!,
    request: (request) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        child.send({ id, body: request } satisfies Envelope<Request>)
      }),
    onEvent: (listener) => void listeners.push(listener),
    kill: () => void child.kill('SIGKILL'),
    stop: (graceMs = 30_000) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve()
          return
        }
        child.once('exit', () => resolve())
        child.disconnect()
        setTimeout(() => child.kill('SIGKILL'), graceMs).unref()
      }),
  }
}

/**
 * The worker's side: answers each request of the parent with `handle`'s result and exits when the
 * parent goes away. Returns a function that sends an event to the parent.
 */
export function serveParent<Request, Reply, Event>(
  handle: (request: Request) => Promise<Reply>,
): (event: Event) => void {
  process.on('message', (message: Envelope<Request>) => {
    handle(message.body).then(
      (reply) => process.send?.({ id: message.id, body: reply } satisfies Envelope<Reply>),
      (error: unknown) => {
        console.error(error)
        process.exit(1)
      },
    )
  })
  process.on('disconnect', () => process.exit(0))
  return (event) => void process.send?.({ body: event } satisfies Envelope<Event>)
}
