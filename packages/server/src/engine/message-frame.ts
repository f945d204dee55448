import type { ServerFrame } from '@seqline/protocol'
import type { StoredMessage } from '../store/store.js'
import { JSON_CONTENT_TYPE } from '../store/store.js'

/** A committed message with its `msg` frame, serialised once and shared by every subscriber. */
export interface FramedMessage {
  readonly offset: number
  /** The frame's JSON text. */
  readonly frame: Buffer
  /** The complete WebSocket frame (header + text), built on first use by `webSocketFrame`. */
  wire?: Buffer
}

/**
 * The unmasked WebSocket text frame (RFC 6455 §5.2) carrying a message, built once and cached:
 * server-to-client frames are identical for every subscriber, so fan-out writes the same bytes
 * to every socket instead of framing the message once per subscriber.
 */
export function webSocketFrame(message: FramedMessage): Buffer {
  if (message.wire !== undefined) return message.wire
  const payload = message.frame
  const length = payload.byteLength
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const wire = Buffer.allocUnsafe(headerLength + length)
  wire[0] = 0x81 // FIN + text opcode
  if (length < 126) {
    wire[1] = length
  } else if (length < 65536) {
    wire[1] = 126
    wire.writeUInt16BE(length, 2)
  } else {
    wire[1] = 127
    wire.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    wire.writeUInt32BE(length >>> 0, 6)
  }
  payload.copy(wire, headerLength)
  message.wire = wire
  return wire
}

const decoder = new TextDecoder()

function dataField(data: Uint8Array, contentType: string): string {
  // JSON streams store the JSON text of the value: splice it in without parsing it again.
  if (isJsonContentType(contentType)) return `"data":${decoder.decode(data)}`
  if (contentType.startsWith('text/')) return `"data":${JSON.stringify(decoder.decode(data))}`
  return `"data":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}","enc":"base64"`
}

/** Whether a stream of this content type holds one JSON value per message. */
export function isJsonContentType(contentType: string): boolean {
  const base = contentType.split(';', 1)[0]?.trim().toLowerCase()
  return base === JSON_CONTENT_TYPE
}

/**
 * Builds the `msg` frame of a stored message. The frame text is assembled by hand so the payload
 * is copied, never re-parsed: with 100 subscribers this runs once, not 100 times.
 */
export function frameMessage(
  stream: string,
  epoch: string,
  contentType: string,
  message: StoredMessage,
): FramedMessage {
  const text =
    `{"t":"msg","stream":${JSON.stringify(stream)},"offset":${message.offset},` +
    `"epoch":${JSON.stringify(epoch)},"producer":${JSON.stringify(message.producer)},` +
    `"seq":${message.seq === null ? 'null' : message.seq},"from":${JSON.stringify(message.from)},` +
    `"ts":${message.ts},${dataField(message.data, contentType)}}`
  return { offset: message.offset, frame: Buffer.from(text) }
}

/** Serialises a control frame (anything but `msg`). */
export function encodeFrame(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame))
}
