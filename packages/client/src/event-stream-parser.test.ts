import { describe, expect, it } from 'vitest'
import { EventStreamParser } from './event-stream-parser.js'

describe('EventStreamParser', () => {
  it('returns an event only once its blank line has arrived, across chunks', () => {
    const parser = new EventStreamParser()
    expect(parser.push(': open\n\nid: 1\nda')).toEqual([])
    expect(parser.push('ta: {"t":"pong"}\n')).toEqual([])
    expect(parser.push('\nid: 2\ndata: {"t":"pong"}\n\n')).toEqual([
      { id: '1', data: '{"t":"pong"}' },
      { id: '2', data: '{"t":"pong"}' },
    ])
  })

  it('joins data lines, accepts CRLF and skips comments and unknown fields', () => {
    const parser = new EventStreamParser()
    expect(parser.push(': ka\r\nevent: x\r\nid:7\r\ndata:a\r\ndata: b\r\n\r\n')).toEqual([
      { id: '7', data: 'a\nb' },
    ])
  })

  it('never returns an event cut before its end', () => {
    const parser = new EventStreamParser()
    expect(parser.push('id: 3\ndata: {"t":"msg","str')).toEqual([])
  })
})
