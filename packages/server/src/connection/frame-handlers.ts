import {
  type AuthFrame,
  type ClientFrame,
  ErrorCode,
  SeqlineError,
  parseClientFrame,
} from '@seqline/protocol'
import type { Principal } from '../auth/authenticator.js'
import type { EngineSession } from '../engine/session.js'
import type { ConnectionPort } from './connection-port.js'
import { greet } from './greeting.js'
import { nack, publish } from './publish-handler.js'

/**
 * Handles one inbound frame's text (`undefined` for a binary frame) in the connection's current
 * state (DESIGN §5). A frame that cannot be parsed or fails is answered with an `error` frame, about
 * its stream when it names one; the connection goes on.
 */
export async function handleFrame(text: string | undefined, port: ConnectionPort): Promise<void> {
  if (port.lifecycle.state.kind === 'closed') return
  let frame: ClientFrame
  try {
    if (text === undefined) {
      throw new SeqlineError(ErrorCode.BAD_FRAME, 'binary frames are not accepted')
    }
    frame = parseClientFrame(text)
  } catch (err) {
    port.sendError(err)
    return
  }
  try {
    await dispatch(frame, port)
  } catch (err) {
    port.sendError(err, 'stream' in frame ? frame.stream : undefined)
  }
}

/** What each frame may do in each state: hello first, then the session's requests. */
async function dispatch(frame: ClientFrame, port: ConnectionPort): Promise<void> {
  const state = port.lifecycle.state
  if (frame.t === 'hello') {
    if (state.kind !== 'awaiting-hello') {
      throw new SeqlineError(ErrorCode.ALREADY_GREETED, 'this connection already said hello')
    }
    return greet(frame, port)
  }
  if (frame.t === 'ping') return port.send({ t: 'pong' })
  if (state.kind === 'expired') {
    // Nothing is accepted until a fresh token.
    if (frame.t === 'auth') return reauthenticate(frame, state.session, port)
    if (frame.t === 'pub') return nack(frame, expiredError(), port)
    throw expiredError()
  }
  if (state.kind !== 'open') {
    throw new SeqlineError(ErrorCode.HELLO_REQUIRED, 'send hello first')
  }
  const session = state.session
  switch (frame.t) {
    case 'auth':
      return reauthenticate(frame, session, port)
    case 'sub':
      return session.subscribe(frame.stream, frame.from)
    case 'unsub':
      return session.unsubscribe(frame.stream)
    case 'pub':
      return publish(session, frame, port)
    case 'ack':
      return session.ack(frame.stream, frame.offset)
    case 'signal':
      await session.signal(frame.stream, frame.data)
      return
  }
}

/** A fresh token on the open connection (before or after the old one expired): `authOk`. */
async function reauthenticate(
  frame: AuthFrame,
  session: EngineSession,
  port: ConnectionPort,
): Promise<void> {
  let principal: Principal
  try {
    principal = await port.ctx.authenticate(frame.token)
    session.reauthenticate(principal)
  } catch (err) {
    port.refuse(err)
    return
  }
  const state = port.lifecycle.state
  if (state.kind !== 'open' && state.kind !== 'expired') return
  port.lifecycle.open(session, principal)
  port.send({
    t: 'authOk',
    ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
  })
}

function expiredError(): SeqlineError {
  return new SeqlineError(ErrorCode.TOKEN_EXPIRED, 'the token expired: send auth first')
}
