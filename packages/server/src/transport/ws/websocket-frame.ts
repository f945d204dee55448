/**
 * An unmasked WebSocket text frame (RFC 6455 §5.2) — FIN set, opcode 1 — around `payload`. Server
 * to client frames are identical for every receiver, so a message is framed once and the same
 * bytes are written to every subscriber's socket.
 */
export function webSocketTextFrame(payload: Buffer): Buffer {
  const length = payload.byteLength
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x81 // FIN + text opcode
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  payload.copy(frame, headerLength)
  return frame
}
