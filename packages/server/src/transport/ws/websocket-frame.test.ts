import { Receiver } from 'ws'
import { describe, expect, it } from 'vitest'
import { webSocketTextFrame } from './websocket-frame.js'

/** Decodes frames with ws's own parser, the one browsers' peers are tested against. */
function decode(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false, skipUTF8Validation: false })
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) reject(new Error('binary frame'))
      else resolve(data.toString())
    })
    receiver.on('error', reject)
    receiver.write(frame)
  })
}

describe('webSocketTextFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 70_000])(
    'frames a %i-byte payload that a WebSocket parser reads back whole',
    async (length) => {
      const payload = Buffer.alloc(length, 'x')
      const frame = webSocketTextFrame(payload)
      expect(frame[0]).toBe(0x81)
      const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
      expect(frame.byteLength).toBe(header + length)
      expect(await decode(frame)).toBe(payload.toString())
    },
  )

  it('uses the 16-bit length form up to 65535 bytes and the 64-bit form from 65536', () => {
    expect(webSocketTextFrame(Buffer.alloc(125))[1]).toBe(125)
    expect(webSocketTextFrame(Buffer.alloc(126))[1]).toBe(126)
    expect(webSocketTextFrame(Buffer.alloc(65_535)).readUInt16BE(2)).toBe(65_535)
    const large = webSocketTextFrame(Buffer.alloc(65_536))
    expect(large[1]).toBe(127)
    expect(large.readUInt32BE(2)).toBe(0)
    expect(large.readUInt32BE(6)).toBe(65_536)
  })
})
