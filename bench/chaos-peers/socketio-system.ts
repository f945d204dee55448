import { type ManagerOptions, type SocketOptions, io } from 'socket.io-client'
import type { ChaosSystem } from '../../test/chaos/harness/chaos-system.js'
import type { ChaosPayload } from '../../test/chaos/harness/delivery-log.js'
import { startPeerProcess } from './peer-process.js'

// Client settings matched to the Seqline runs: reconnect within 50–500 ms, websocket only.
const reconnect: Partial<ManagerOptions & SocketOptions> = {
  transports: ['websocket'],
  reconnectionDelay: 50,
  reconnectionDelayMax: 500,
  timeout: 3_000,
}

/**
 * Socket.IO 4.8 under the chaos harness. Publishers use the client's own reliable-emit options
 * (`retries` + `ackTimeout`: the packet is re-sent until acknowledged); subscribers record every
 * `msg` event. With `recovery`, the server runs with `connectionStateRecovery`.
 */
export function socketIoSystem(recovery: boolean): ChaosSystem {
  return {
    name: recovery ? 'socket.io + recovery' : 'socket.io',
    features: new Set(),
    startServer: (options) =>
      startPeerProcess('./socketio-server.ts', {
        PORT: String(options.port),
        HEARTBEAT_MS: String(options.heartbeatMs),
        RECOVERY: recovery ? '1' : '0',
      }),
    subscriber(options) {
      const socket = io(options.url, { ...reconnect, auth: { role: 'sub' } })
      socket.on('msg', (payload: ChaosPayload) =>
        options.log.deliver({ payload, offset: undefined }),
      )
      return {
        ready: new Promise((resolve) => socket.once('connect', () => resolve())),
        close: async () => void socket.disconnect(),
      }
    },
    publisher(options) {
      const socket = io(options.url, {
        ...reconnect,
        auth: { role: 'pub' },
        ackTimeout: 2_000,
        retries: 1_000_000,
      })
      return {
        publish: async (payload) => {
          await socket.emitWithAck('pub', payload)
          return { offset: undefined }
        },
        close: async () => void socket.disconnect(),
      }
    },
  }
}
