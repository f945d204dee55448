// Socket.IO 4.8 as a chat room server, for bench/connections: a client joins a room with an
// acknowledgement; `pub` broadcasts to the room. WebSocket transport only, no compression, like
// the other servers measured. Prints `{"port": n}` once listening.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false })
io.on('connection', (socket) => {
  socket.on('join', (room: string, ack?: () => void) => {
    void socket.join(room)
    ack?.()
  })
  socket.on('pub', (room: string, payload: unknown) => {
    io.to(room).emit('msg', payload)
  })
})
http.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (http.address() as AddressInfo).port }))
})
process.on('SIGTERM', () => process.exit(0))
