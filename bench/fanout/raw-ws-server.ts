// The baseline: a plain `ws` broadcast server — no storage, no acks, no resume. Every text frame
// a client sends is re-sent to every other client. What most teams start from.
import { WebSocketServer, type WebSocket } from 'ws'

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
const clients = new Set<WebSocket>()
wss.on('connection', (ws) => {
  clients.add(ws)
  ws.on('close', () => clients.delete(ws))
  ws.on('message', (data) => {
    for (const client of clients) if (client !== ws) client.send(data, { binary: false })
  })
})
wss.on('listening', () => {
  const address = wss.address()
  if (address !== null && typeof address === 'object')
    console.log(JSON.stringify({ port: address.port }))
})
// Exit through process.exit so `--cpu-prof` profiles are written.
process.on('SIGTERM', () => process.exit(0))
