import type { CommittedMessage } from '../engine/committed-message.js'
import { isJsonMediaType, isTextMediaType } from '../media-type.js'

const decoder = new TextDecoder()

function dataField(data: Uint8Array, contentType: string): string {
  // JSON streams store the JSON text of the value: splice it in without parsing it again.
  if (isJsonMediaType(contentType)) return `"data":${decoder.decode(data)}`
  if (isTextMediaType(contentType)) return `"data":${JSON.stringify(decoder.decode(data))}`
  return `"data":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}","enc":"base64"`
}

/**
 * The text of a message's `msg` frame (DESIGN §5), assembled by hand so the payload is copied,
 * never re-parsed: with 100 subscribers it runs once per transport format, not 100 times (each
 * transport caches the bytes it builds from it on the message).
 */
export function msgFrameText(message: CommittedMessage): string {
  const m = message.stored
  return (
    `{"t":"msg","stream":${JSON.stringify(message.stream)},"offset":${m.offset},` +
    `"epoch":${JSON.stringify(message.epoch)},"producer":${JSON.stringify(m.producer)},` +
    `"seq":${m.seq === null ? 'null' : m.seq},"from":${JSON.stringify(m.from)},` +
    `"ts":${m.ts},${dataField(m.data, message.contentType)}}`
  )
}
