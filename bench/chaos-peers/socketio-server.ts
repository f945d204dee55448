// Socket.IO 4.8 as people deploy it for chat: subscribers join a room, publishers emit with an
// acknowledgement, the server broadcasts to the room and acks. RECOVERY=1 turns on
// `connectionStateRecovery` (missed packets are replayed to a client that comes back within
// `maxDisconnectionDuration`, from the server's memory).
import { createServer } from 'node:http'
import { Server } from 'socket.io'

const port = Number(process.env.PORT)
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 500)
const recovery = process.env.RECOVERY === '1'

const http = createServer()
const io = new Server(http, {
  transports: ['websocket'],
  // The same failure detection budget as Seqline's heartbeat in the chaos runs.
  pingInterval: heartbeatMs,
  pingTimeout: heartbeatMs,
  ...(recovery
    ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } }
    : {}),
})
io.on('connection', (socket) => {
  const role = (socket.handshake.auth as { role?: string }).role
  // A recovered socket gets its rooms back; a new one joins.
  if (role === 'sub' && !socket.recovered) void socket.join('room')
  socket.on('pub', (payload: unknown, ack?: (reply: string) => void) => {
    io.to('room').emit('msg', payload)
    ack?.('ok')
  })
})
http.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ port })))
process.on('SIGTERM', () => process.exit(0))
