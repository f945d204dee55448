// The baseline: a `ws` broadcast with the heartbeat from the `ws` README. Publishers get an ack once
// their message was handed to every connected subscriber socket; nothing is stored.
import { type WebSocket, WebSocketServer } from 'ws'

const port = Number(process.env.PORT)
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 500)

const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false })
const subscribers = new Set<WebSocket>()
const alive = new WeakMap<WebSocket, boolean>()
wss.on('connection', (ws, req) => {
  alive.set(ws, true)
  ws.on('pong', () => alive.set(ws, true))
  ws.on('error', () => {})
  if (req.url?.includes('role=sub')) {
    subscribers.add(ws)
    ws.on('close', () => subscribers.delete(ws))
    return
  }
  ws.on('message', (data) => {
    const { id, payload } = JSON.parse(String(data)) as { id: number; payload: unknown }
    const frame = JSON.stringify({ payload })
    for (const subscriber of subscribers) subscriber.send(frame)
    ws.send(JSON.stringify({ ack: id }))
  })
})
setInterval(() => {
  for (const ws of wss.clients) {
    if (alive.get(ws) === false) {
      ws.terminate()
      continue
    }
    alive.set(ws, false)
    ws.ping()
  }
}, heartbeatMs)
wss.on('listening', () => console.log(JSON.stringify({ port })))
process.on('SIGTERM', () => process.exit(0))
