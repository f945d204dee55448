import { WebSocket } from 'ws'
import type { ChaosSystem } from '../../test/chaos/harness/chaos-system.js'
import type { ChaosPayload } from '../../test/chaos/harness/delivery-log.js'
import { startPeerProcess } from './peer-process.js'

/** A `ws` connection that comes back after every loss (50–500 ms backoff) and checks liveness. */
class ReconnectingSocket {
  #socket: WebSocket | undefined
  #closed = false
  #attempt = 0
  #lastHeard = Date.now()
  readonly #watchdog: NodeJS.Timeout

  constructor(
    private readonly url: string,
    private readonly heartbeatMs: number,
    private readonly onOpen: (socket: WebSocket) => void,
    private readonly onMessage: (data: string) => void,
  ) {
    this.#dial()
    // The client side of the heartbeat: the server pings every interval; silence means dead.
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastHeard > 2 * this.heartbeatMs) this.#socket?.terminate()
    }, this.heartbeatMs / 4)
  }

  send(text: string): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(text)
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#watchdog)
    this.#socket?.terminate()
  }

  #dial(): void {
    const socket = new WebSocket(this.url)
    this.#socket = socket
    this.#lastHeard = Date.now()
    socket.on('open', () => {
      this.#attempt = 0
      this.onOpen(socket)
    })
    socket.on('ping', () => (this.#lastHeard = Date.now()))
    socket.on('message', (data) => {
      this.#lastHeard = Date.now()
      this.onMessage(String(data))
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (this.#closed || this.#socket !== socket) return
      const delay = Math.min(500, 50 * 2 ** this.#attempt++) * (0.5 + Math.random() / 2)
      setTimeout(() => this.#dial(), delay)
    })
  }
}

/**
 * The baseline every team starts from: a `ws` broadcast server and reconnecting clients.
 * Publishers keep unacknowledged messages and send them again after every reconnect.
 */
export const rawWsSystem: ChaosSystem = {
  name: 'raw ws',
  features: new Set(),
  startServer: (options) =>
    startPeerProcess('./raw-ws-server.ts', {
      PORT: String(options.port),
      HEARTBEAT_MS: String(options.heartbeatMs),
    }),
  subscriber(options) {
    let ready!: () => void
    const socket = new ReconnectingSocket(
      `${options.url.replace('http', 'ws')}/?role=sub`,
      500,
      () => ready(),
      (data) => {
        const { payload } = JSON.parse(data) as { payload: ChaosPayload }
        options.log.deliver({ payload, offset: undefined })
      },
    )
    return {
      ready: new Promise<void>((resolve) => (ready = resolve)),
      close: async () => socket.close(),
    }
  },
  publisher(options) {
    let nextId = 0
    const unacked = new Map<number, { text: string; resolve: () => void }>()
    const socket = new ReconnectingSocket(
      `${options.url.replace('http', 'ws')}/?role=pub`,
      500,
      (ws) => {
        for (const { text } of unacked.values()) ws.send(text)
      },
      (data) => {
        const { ack } = JSON.parse(data) as { ack: number }
        unacked.get(ack)?.resolve()
        unacked.delete(ack)
      },
    )
    return {
      publish: (payload) =>
        new Promise((resolve) => {
          const id = nextId++
          const text = JSON.stringify({ id, payload })
          unacked.set(id, { text, resolve: () => resolve({ offset: undefined }) })
          socket.send(text)
        }),
      close: async () => socket.close(),
    }
  },
}
