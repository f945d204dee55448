import type { ServerFrame } from '@seqline/protocol'
import type { DeliveryEvent } from '../engine/follower.js'

/** The server frame of a delivery event (DESIGN §5). */
export function eventFrame(event: DeliveryEvent): ServerFrame {
  switch (event.kind) {
    case 'caughtUp':
      return {
        t: 'caughtUp',
        stream: event.stream,
        epoch: event.epoch,
        head: event.head,
        recovered: event.recovered,
      }
    case 'reset':
      return {
        t: 'reset',
        stream: event.stream,
        reason: event.reason,
        epoch: event.epoch,
        head: event.head,
        tail: event.tail,
      }
    case 'presence':
      return {
        t: 'presence',
        stream: event.stream,
        users: event.users,
        count: event.count,
        complete: event.complete,
      }
    case 'presenceDiff':
      return { t: 'presenceDiff', stream: event.stream, changes: event.changes, count: event.count }
    case 'signal':
      return { t: 'signal', stream: event.stream, from: event.from, data: event.data }
    case 'error':
      return { t: 'error', code: event.code, message: event.message, stream: event.stream }
  }
}

// Events fanned out to many followers (presence, signals) are one shared object: their JSON is
// built once, whoever encodes first, and reused for every other follower.
const encoded = new WeakMap<DeliveryEvent, Buffer>()

/** The JSON text of an event's frame, encoded once per event object. */
export function eventFrameText(event: DeliveryEvent): Buffer {
  let text = encoded.get(event)
  if (text === undefined) {
    text = Buffer.from(JSON.stringify(eventFrame(event)))
    encoded.set(event, text)
  }
  return text
}
